import { z } from "zod";

/** diffusers declares these Optional: an explicit null means "use the default". */
const withDefault = (schema: z.ZodNumber, fallback: number) =>
  schema.nullish().transform((v) => v ?? fallback);

/** Variants the sampler does not implement: rejected rather than silently sampled differently. */
const unsupported = z
  .boolean()
  .nullish()
  .refine((v) => v !== true, { message: "is not supported: only the plain Euler sigma schedule is implemented" });

const schema = z
  .looseObject({
    _class_name: z.literal("FlowMatchEulerDiscreteScheduler").optional(),
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

export type SchedulerConfig = z.output<typeof schema>;

/** Validates a diffusers FlowMatchEulerDiscreteScheduler `scheduler_config.json`, filling diffusers' defaults. */
export function parseSchedulerConfig(raw: unknown): SchedulerConfig {
  const result = schema.safeParse(raw);
  if (!result.success) throw new Error(`invalid scheduler_config.json:\n${z.prettifyError(result.error)}`);
  return result.data;
}
