import { z } from "zod";

/** Model names double as queue-name and job-id prefixes, so they stay short and plain. */
export const ModelNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9]{1,31}$/, "must be 2 to 32 lowercase letters and digits, starting with a letter");
export type ModelName = z.infer<typeof ModelNameSchema>;

const positiveInt = z.number().int().positive();

/** Valid frame counts are `step * k + offset` (k >= 0) between min and max: 8k+1 for LTX-2, 4k+1 for Wan. */
export const FrameRuleSchema = z.object({
  step: positiveInt,
  offset: z.number().int().nonnegative(),
  min: positiveInt,
  max: positiveInt,
  default: positiveInt,
});
export type FrameRule = z.infer<typeof FrameRuleSchema>;

export const ResolutionRuleSchema = z.object({
  multiple: positiveInt,
  min_width: positiveInt,
  max_width: positiveInt,
  min_height: positiveInt,
  max_height: positiveInt,
  default_width: positiveInt,
  default_height: positiveInt,
});
export type ResolutionRule = z.infer<typeof ResolutionRuleSchema>;

const RangeSchema = (kind: z.ZodNumber) =>
  z.object({ min: kind, max: kind, default: kind }).refine((r) => r.min <= r.default && r.default <= r.max, {
    message: "min <= default <= max",
  });

export const ConstraintsSchema = z.object({
  frames: FrameRuleSchema,
  resolution: ResolutionRuleSchema,
  fps: RangeSchema(z.number().int().positive()),
  steps: RangeSchema(z.number().int().positive()),
  guidance: RangeSchema(z.number().nonnegative()),
});
export type Constraints = z.infer<typeof ConstraintsSchema>;

/**
 * The guidance terms of diffusers' LTX2Pipeline besides `guidance_scale` (the request's `guidance`), with
 * its `__call__` defaults: spatio-temporal guidance, modality isolation, guidance rescale, and the audio's own.
 */
export const X0GuidanceSchema = z.object({
  stg_scale: z.number().min(0).default(1.0),
  modality_scale: z.number().min(0).default(3.0),
  guidance_rescale: z.number().min(0).max(1).default(0.7),
  audio_guidance_scale: z.number().min(0).default(7.0),
  audio_stg_scale: z.number().min(0).default(1.0),
  audio_modality_scale: z.number().min(0).default(3.0),
  audio_guidance_rescale: z.number().min(0).max(1).default(0.7),
});
export type X0Guidance = z.output<typeof X0GuidanceSchema>;

const rgb = z.tuple([z.number(), z.number(), z.number()]);

/**
 * A linear latent-to-RGB projection for previews while sampling (ComfyUI's `latent_rgb_factors` and
 * `latent_rgb_factors_bias`): `rgb[j] = sum_k x0[k] * factors[k][j] + bias[j]`, in [-1, 1] like a VAE's
 * output, on the sampler's own latent (before any denormalisation the family applies for the decoder).
 */
export const LatentPreviewSchema = z.object({
  /** One [R, G, B] row per latent channel. */
  latent_rgb_factors: z.array(rgb).min(1),
  latent_rgb_bias: rgb.default([0, 0, 0]),
});
export type LatentPreview = z.output<typeof LatentPreviewSchema>;

/** The platform's own manifest, `videosdgx.json`, kept beside the diffusers/Optimum ONNX folders. */
export const ManifestSchema = z.object({
  schema_version: z.literal(1),
  name: ModelNameSchema,
  /**
   * Which pipeline runs the folder (workers/src/families/<family>): it sets the files, graphs and configs
   * the folder must hold. Absent means `generic`, the platform's first pipeline.
   */
  family: z.string().regex(/^[a-z][a-z0-9]{1,31}$/, "must be a family name such as generic or wan").default("generic"),
  display_name: z.string().min(1),
  license: z.string().min(1),
  /** False for models whose weights nobody can obtain (Waver 1.0): listed, never installable. */
  weights_public: z.boolean(),
  constraints: ConstraintsSchema,
  latent: z.object({
    channels: positiveInt,
    spatial_factor: positiveInt,
    temporal_factor: positiveInt,
    /** Transformer patch size (t, h, w): sets the token count that dynamic shifting depends on. */
    patch: z.tuple([positiveInt, positiveInt, positiveInt]),
  }),
  text: z.object({
    /** The text encoder's fixed context (Wan: max_sequence_length 512); prompts are cut or padded to it. */
    max_tokens: positiveInt,
    /** The negative prompt a job gets when its request gives none (shown in the job's params). */
    default_negative_prompt: z.string().optional(),
  }),
  sampling: z
    .object({
      /** Overrides the scheduler config's flow_shift for jobs of exactly this size ("832x480": 3.0). */
      flow_shift_by_size: z.record(z.string().regex(/^\d+x\d+$/, 'must look like "832x480"'), z.number().positive()).optional(),
      /** LTX-2's guidance in x0 space beside the request's text guidance (family ltx2; defaults: diffusers' LTX2Pipeline). */
      x0_guidance: X0GuidanceSchema.optional(),
      /** LTX-2's `decode_timestep` and `decode_noise_scale` (null: the decode timestep), for a timestep-conditioned VAE. */
      decode_timestep: z.number().min(0).max(1).optional(),
      decode_noise_scale: z.number().min(0).max(1).nullable().optional(),
      /** Steps must be a multiple of this (magi: the window size, each chunk's steps split over its stages). */
      steps_multiple: positiveInt.optional(),
    })
    .optional(),
  memory: z.object({
    /** Bytes resident once every session is loaded. */
    resident_bytes: positiveInt,
    /** Peak during load as a multiple of resident bytes (weights read to CPU, then uploaded). */
    load_peak_factor: z.number().min(1).max(4),
  }),
  capabilities: z.object({
    audio: z.boolean(),
    chunked: z.boolean(),
    /** Image to video: requests carry an `image` (required) and the folder holds image_encoder/ and vae_encoder/ (family wan). */
    i2v: z.boolean().default(false),
  }),
  /** Previews while sampling (PREVIEW_EVERY_STEPS); a model without it gets none. */
  preview: LatentPreviewSchema.optional(),
}).superRefine((m, ctx) => {
  const rows = m.preview?.latent_rgb_factors.length;
  if (rows !== undefined && rows !== m.latent.channels) {
    ctx.addIssue({ code: "custom", path: ["preview", "latent_rgb_factors"], message: `must have one row per latent channel (latent.channels ${m.latent.channels}), got ${rows}` });
  }
});
export type Manifest = z.infer<typeof ManifestSchema>;
/** A manifest as written: `family` may be left out. */
export type ManifestInput = z.input<typeof ManifestSchema>;

export const MANIFEST_FILE = "videosdgx.json";

