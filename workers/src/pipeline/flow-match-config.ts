import { z } from "zod";

/** diffusers declares these Optional: an explicit null means "use the default". */
export const withDefault = (schema: z.ZodNumber, fallback: number) =>
  schema.nullish().transform((v) => v ?? fallback);

/** A switch for a variant the sampler does not implement: rejected rather than silently sampled differently. */
export const unsupportedSwitch = (why: string) =>
  z
    .boolean()
    .nullish()
    .refine((v) => v !== true, { message: `is not supported: ${why}` });

const unsupported = unsupportedSwitch("only the plain Euler sigma schedule is implemented");

/** FlowMatchEulerDiscreteScheduler; a config without `_class_name` is read as one (the tiny model's was). */
export const flowMatchConfigSchema = z
  .looseObject({
    _class_name: z.literal("FlowMatchEulerDiscreteScheduler").default("FlowMatchEulerDiscreteScheduler"),
    num_train_timesteps: z.number().int().positive().default(1000),
    shift: z.number().positive().default(1.0),
    use_dynamic_shifting: z.boolean().default(false),
    base_shift: withDefault(z.number(), 0.5),
    max_shift: withDefault(z.number(), 1.15),
    base_image_seq_len: withDefault(z.number().int().positive(), 256),
    max_image_seq_len: withDefault(z.number().int().positive(), 4096),
    time_shift_type: z.enum(["exponential", "linear"]).default("exponential"),
    // Like diffusers, 0/null means no stretch; 1 would divide by zero.
    shift_terminal: z.number().min(0).lt(1).nullish(),
    invert_sigmas: unsupported,
    use_karras_sigmas: unsupported,
    use_exponential_sigmas: unsupported,
    use_beta_sigmas: unsupported,
    stochastic_sampling: unsupported,
  })
  .refine((c) => !c.use_dynamic_shifting || c.max_image_seq_len > c.base_image_seq_len, {
    message: "max_image_seq_len must exceed base_image_seq_len when use_dynamic_shifting is on",
    path: ["max_image_seq_len"],
  });

export type FlowMatchConfig = z.output<typeof flowMatchConfigSchema>;
