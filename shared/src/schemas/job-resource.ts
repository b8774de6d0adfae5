import { z } from "zod";
import { EffectiveParamsSchema, JobOutputSchema, ProgressSchema, TimingsSchema } from "../contracts/generate-queue.js";
import { WebhookEventSchema } from "../webhooks/subscription.js";

export const JobStatusSchema = z.enum(["queued", "running", "completed", "failed", "cancelled"]);
export type JobStatus = z.infer<typeof JobStatusSchema>;

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

export const JobResultSchema = JobOutputSchema.omit({ video_file: true, timings: true })
  .extend({ video_url: z.string(), poster_url: z.string() });

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

/** `GET /v1/jobs`: a page of jobs, newest first; next_before, when present, is the `before` of the next page. */
export const JobListSchema = z.object({ jobs: z.array(JobResourceSchema), next_before: z.string().optional() });
