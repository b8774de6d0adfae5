import { z } from "zod";
import { WebhookEventSchema, type WebhookSubscription } from "../webhooks/subscription.js";

export const JobStatusSchema = z.enum(["queued", "running", "completed", "failed", "cancelled"]);
export type JobStatus = z.infer<typeof JobStatusSchema>;

export const PhaseSchema = z.enum([
  "queued", "waiting_for_gpu", "waiting_for_memory", "loading", "encoding_text", "denoising", "decoding", "encoding_video", "done",
]);
export type Phase = z.infer<typeof PhaseSchema>;

/** Milliseconds per phase; a phase absent from the object did not run (e.g. no load when the model was warm). */
export const TimingsSchema = z
  .object({
    wait_for_gpu_ms: z.number().optional(),
    wait_for_memory_ms: z.number().optional(),
    load_ms: z.number().optional(),
    encode_text_ms: z.number().optional(),
    denoise_ms: z.number().optional(),
    decode_ms: z.number().optional(),
    encode_video_ms: z.number().optional(),
    total_ms: z.number().optional(),
  });
export type Timings = z.infer<typeof TimingsSchema>;

/** What the worker reports through BullMQ's job progress after every step. */
/** Why a job waits before loading its model: the host's memory as the worker last saw it. */
export const MemoryWaitSchema = z.object({
  available_bytes: z.number(),
  needed_bytes: z.number(),
  held_by_others_bytes: z.number(),
  budget_bytes: z.number(),
  message: z.string(),
});
export type MemoryWait = z.infer<typeof MemoryWaitSchema>;

export const ProgressSchema = z.object({
  phase: PhaseSchema,
  step: z.number().int(),
  total: z.number().int(),
  timings: TimingsSchema,
  memory: MemoryWaitSchema.optional(),
});
export type Progress = z.infer<typeof ProgressSchema>;

/** The parameters a job really runs with, after defaults and per-model rules. Stored as the job's data. */
export const EffectiveParamsSchema = z
  .object({
    model: z.string(),
    prompt: z.string(),
    negative_prompt: z.string(),
    width: z.number().int(),
    height: z.number().int(),
    num_frames: z.number().int(),
    fps: z.number().int(),
    duration_s: z.number(),
    steps: z.number().int(),
    guidance: z.number(),
    seed: z.number().int(),
  });
export type EffectiveParams = z.infer<typeof EffectiveParamsSchema>;

/** A job's BullMQ data: its params, plus fields kept beside them that are never shown as `params`. */
export type JobData = EffectiveParams & {
  /** Who is told about the job. */
  webhook?: WebhookSubscription;
  /** Id of the API key that submitted the job; absent for anonymous (loopback, no keys) submissions. */
  owner?: string;
};

const PARAM_FIELDS = Object.keys(EffectiveParamsSchema.shape) as (keyof EffectiveParams)[];

/** The params of a job's data, without the fields stored beside them. */
export function paramsOf(data: JobData): EffectiveParams {
  return Object.fromEntries(PARAM_FIELDS.map((k) => [k, data[k]])) as EffectiveParams;
}

export const WebhookAttemptSchema = z.object({
  attempt: z.number().int(),
  at: z.string(),
  status_code: z.number().int().optional(),
  error: z.string().optional(),
  duration_ms: z.number(),
});

export const WebhookDeliverySchema = z.object({
  message_id: z.string(),
  event: WebhookEventSchema,
  /** pending: not tried yet; retrying: failed, tried again at next_attempt_at; dead: every attempt failed; gone: the receiver answered 410; skipped: not sent after a 410. */
  status: z.enum(["pending", "delivered", "retrying", "dead", "gone", "skipped"]),
  attempts: z.array(WebhookAttemptSchema),
  next_attempt_at: z.string().optional(),
});
export type WebhookDeliveryView = z.infer<typeof WebhookDeliverySchema>;

export const WebhookViewSchema = z.object({
  url: z.string(),
  events: z.array(WebhookEventSchema),
  deliveries: z.array(WebhookDeliverySchema),
});
export type WebhookView = z.infer<typeof WebhookViewSchema>;

/** What a worker returns when a job completes (BullMQ's returnvalue). */
export const JobOutputSchema = z.object({
  video_file: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  num_frames: z.number().int(),
  fps: z.number(),
  duration_s: z.number(),
  bytes: z.number().int(),
  sha256: z.string(),
  timings: TimingsSchema,
});
export type JobOutput = z.infer<typeof JobOutputSchema>;

export const JobResultSchema = JobOutputSchema.omit({ video_file: true, timings: true })
  .extend({ video_url: z.string() });

export const ErrorBodySchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  });

export const JobResourceSchema = z
  .object({
    id: z.string(),
    model: z.string(),
    status: JobStatusSchema,
    /** Jobs ahead of this one in its model's queue (0 = next); present while queued. */
    queue_position: z.number().int().optional(),
    progress: ProgressSchema,
    params: EffectiveParamsSchema,
    attempts: z.number().int(),
    created_at: z.string(),
    started_at: z.string().optional(),
    finished_at: z.string().optional(),
    timings: TimingsSchema,
    result: JobResultSchema.optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    /** While a failed attempt is retried: why that attempt ended. */
    last_error: z.object({ code: z.string(), message: z.string() }).optional(),
    /** The job's webhook and every delivery attempt of its messages. */
    webhook: WebhookViewSchema.optional(),
    links: z.object({ self: z.string(), video: z.string() }),
  });
export type JobResource = z.infer<typeof JobResourceSchema>;

/** The seed route's answer shape, kept as the seed documents show it. */
export const GenerateResponseSchema = z
  .object({
    job_id: z.string(),
    status: JobStatusSchema,
    queue_position: z.number().int().optional(),
    params: EffectiveParamsSchema,
    links: z.object({ self: z.string(), video: z.string() }),
  });
