import { z } from "zod";
import { JobResourceSchema } from "../schemas/job-resource.js";
import { WEBHOOK_EVENTS, WebhookEventSchema, type WebhookEvent } from "../webhooks/subscription.js";
import type { QueueContract } from "./queue-contract.js";

/*
 * The webhook outbox's contract: one BullMQ queue, a job per message to one endpoint, named by its event.
 * The API and the dispatcher add messages; the delivery worker sends them.
 */

/** Every webhook message is a job of this one queue (the durable outbox). */
export const WEBHOOK_QUEUE = "webhooks";

/** One webhook message to one endpoint: the delivery job's data. `body` is signed and sent byte for byte. */
export const OutboxMessageSchema = z.object({
  messageId: z.string(),
  jobId: z.string(),
  event: WebhookEventSchema,
  url: z.string(),
  body: z.string(),
  /** API key that submitted the job: its own signing secret is used. */
  owner: z.string().optional(),
  /** Position in the job's chain of messages: a message waits until every earlier one has finished. Absent for redeliveries. */
  order: z.number().optional(),
});
export type OutboxMessage = z.infer<typeof OutboxMessageSchema>;

/**
 * The body a receiver gets: Standard Webhooks' `{type, timestamp, data}`, data being the job resource
 * without its delivery log (the receiver is the one being delivered to; the log would grow every message).
 */
export const WebhookBodySchema = z.object({
  type: z.templateLiteral(["job.", WebhookEventSchema]),
  timestamp: z.string(),
  data: JobResourceSchema.omit({ webhook: true }),
});
export type WebhookBody = z.infer<typeof WebhookBodySchema>;

/** One attempt to deliver a message: a delivery job's result. */
export const DeliveryAttemptSchema = z.object({
  ok: z.boolean(),
  statusCode: z.number().int().optional(),
  error: z.string().optional(),
  durationMs: z.number(),
  /** The receiver's Retry-After, in ms (429 and 503). */
  retryAfterMs: z.number().optional(),
});
export type DeliveryAttempt = z.infer<typeof DeliveryAttemptSchema>;

export const webhookQueue: QueueContract<OutboxMessage, DeliveryAttempt, WebhookEvent> = {
  kind: "webhook delivery",
  jobNames: WEBHOOK_EVENTS,
  data: OutboxMessageSchema,
  result: DeliveryAttemptSchema,
};
