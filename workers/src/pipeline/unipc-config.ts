import { z } from "zod";
import { unsupportedSwitch } from "./flow-match-config.js";

const onlyFlow = unsupportedSwitch("only flow sigmas (use_flow_sigmas) are implemented for UniPC");

/**
 * UniPCMultistepScheduler as Wan 2.1 configures it: flow prediction on flow sigmas, the x0-predicting
 * B(h) predictor and corrector. Keys diffusers reads only on paths we refuse (betas, thresholding
 * limits, `steps_offset`, `sigma_min`/`sigma_max` of the Karras-style schedules) are accepted and unused:
 * flow sigmas never read them. `timestep_spacing` is accepted for the same reason: with flow sigmas
 * diffusers overwrites the spaced timesteps with `sigma * num_train_timesteps`.
 */
export const uniPCConfigSchema = z
  .looseObject({
    _class_name: z.literal("UniPCMultistepScheduler"),
    num_train_timesteps: z.number().int().positive().default(1000),
    // diffusers' default is "epsilon": a config must say flow_prediction.
    prediction_type: z.literal("flow_prediction", {
      error: 'must be "flow_prediction": epsilon, sample and v_prediction are not implemented',
    }),
    use_flow_sigmas: z.literal(true, { error: "must be true: only flow sigmas are implemented" }),
    flow_shift: z.number().positive().default(1.0),
    solver_order: z
      .number()
      .int()
      .min(1, { error: "must be 1, 2 or 3" })
      .max(3, { error: "must be 1, 2 or 3" })
      .default(2),
    // diffusers replaces the DPM-Solver names with bh2 at init.
    solver_type: z
      .enum(["bh1", "bh2", "midpoint", "heun", "logrho"])
      .default("bh2")
      .transform((v): "bh1" | "bh2" => (v === "bh1" ? "bh1" : "bh2")),
    predict_x0: z.literal(true, { error: "must be true: the noise-space (predict_x0 false) update is not implemented" }).default(true),
    lower_order_final: z.boolean().default(true),
    final_sigmas_type: z.enum(["zero", "sigma_min"]).default("zero"),
    disable_corrector: z.array(z.number().int().min(0)).default([]),
    timestep_spacing: z.enum(["linspace", "leading", "trailing"]).default("linspace"),
    beta_schedule: z.enum(["linear", "scaled_linear", "squaredcos_cap_v2"]).optional(),
    solver_p: z.null({ error: "is not supported: only UniPC's own predictor is implemented" }).optional(),
    shift_terminal: z.null({ error: "is not supported for UniPC" }).optional(),
    thresholding: unsupportedSwitch("dynamic thresholding is not implemented"),
    use_dynamic_shifting: unsupportedSwitch("UniPC is implemented with a static flow_shift"),
    use_karras_sigmas: onlyFlow,
    use_exponential_sigmas: onlyFlow,
    use_beta_sigmas: onlyFlow,
  })
  // Combinations for which diffusers' own last step is not finite: refused rather than reproduced.
  .refine((c) => !(c.solver_type === "bh1" && c.final_sigmas_type === "zero"), {
    message:
      'bh1 with final_sigmas_type "zero" is not supported: diffusers\' last step is NaN there (B(h) = -inf); use bh2 or "sigma_min"',
    path: ["solver_type"],
  })
  .refine((c) => c.lower_order_final || c.solver_order === 1 || (c.final_sigmas_type === "sigma_min" && c.solver_order === 2), {
    message:
      "false is not supported with this solver_order and final_sigmas_type: diffusers' last step of order 2-3 to a zero " +
      "sigma (or of order 3 to sigma_min) is not finite; set lower_order_final to true",
    path: ["lower_order_final"],
  });

export type UniPCConfig = z.output<typeof uniPCConfigSchema>;
