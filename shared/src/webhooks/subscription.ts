import { z } from "zod";

/** What a client can be told about a job; `queued` and `started` repeat when a failed attempt is retried. */
export const WEBHOOK_EVENTS = ["queued", "started", "progress", "chunk", "completed", "failed", "cancelled"] as const;
export const WebhookEventSchema = z.enum(WEBHOOK_EVENTS);
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;
export const TERMINAL_WEBHOOK_EVENTS: readonly WebhookEvent[] = ["completed", "failed", "cancelled"];

/** The `webhook` field of a job request. */
export const WebhookRequestSchema = z.strictObject({
  // The message is for the URL's form only: a fixed one would also answer a URL that is merely too long.
  url: z.url({ protocol: /^https?$/, error: (iss) => (iss.code === "invalid_format" ? "must be an http or https URL" : undefined) }).max(2048),
  events: z
    .array(WebhookEventSchema)
    .min(1)
    .optional()
    .describe("events to send; default: the terminal ones (completed, failed, cancelled)"),
});
export type WebhookRequest = z.infer<typeof WebhookRequestSchema>;

/** The subscription as stored on the job: events resolved, each once. */
export const WebhookSubscriptionSchema = z.object({ url: z.string(), events: z.array(WebhookEventSchema) });
export type WebhookSubscription = z.infer<typeof WebhookSubscriptionSchema>;

export function toSubscription(req: WebhookRequest): WebhookSubscription {
  const wanted = new Set(req.events ?? TERMINAL_WEBHOOK_EVENTS);
  return { url: req.url, events: WEBHOOK_EVENTS.filter((e) => wanted.has(e)) };
}
