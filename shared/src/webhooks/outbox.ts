import { randomUUID } from "node:crypto";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../config.js";
import { openQueue } from "../contracts/queue-contract.js";
import { WEBHOOK_QUEUE, webhookQueue, type DeliveryAttempt, type OutboxMessage, type WebhookBody } from "../contracts/webhook-queue.js";
import { streamIdScore } from "../jobs/queue-events.js";
import { jobRetentionSeconds, redisKeys } from "../queues.js";
import type { JobResource } from "../schemas/job-resource.js";
import { messageId } from "./delivery-log.js";
import { TERMINAL_WEBHOOK_EVENTS, type WebhookEvent, type WebhookSubscription } from "./subscription.js";

/** The body a receiver gets (WebhookBodySchema), as the text that is signed. */
export function webhookBody(event: WebhookEvent, at: Date, job: JobResource): string {
  const { webhook: _log, ...data } = job;
  const body: WebhookBody = { type: `job.${event}`, timestamp: at.toISOString(), data };
  return JSON.stringify(body);
}

/**
 * What tells one message of a job's event from another. Repeating events (retries, steps) are told apart
 * by their stream entry. A job ends once per run: `completed` and `failed` carry the run's end, so a job
 * retried by request that fails again sends a new message, while the stream and trimmed-stream recovery
 * paths, which see the same end, make the same id. A cancellation is one message whoever reports it.
 */
function occurrence(job: JobResource, event: WebhookEvent, streamId: string | undefined): string | undefined {
  if (!TERMINAL_WEBHOOK_EVENTS.includes(event)) return streamId;
  return event !== "cancelled" && job.finished_at ? String(Date.parse(job.finished_at)) : undefined;
}

/**
 * The durable outbox: every webhook message is a job of its own BullMQ queue (`webhooks`), whose id is
 * the message id, so a message enqueued twice (a dispatcher that restarts mid-batch, the API and a
 * worker both reporting a cancellation) is sent once. Ordered messages also enter the job's chain, from
 * which the deliverer drops any entry whose delivery job has finished or gone.
 */
export class WebhookOutbox {
  readonly queue: Queue<OutboxMessage, DeliveryAttempt, WebhookEvent>;
  private readonly keys;

  constructor(private readonly config: Config, private readonly redis: Redis) {
    this.keys = redisKeys(config.QUEUE_PREFIX);
    this.queue = openQueue(webhookQueue, WEBHOOK_QUEUE, { connection: redis, prefix: config.QUEUE_PREFIX });
    this.queue.on("error", () => undefined);
  }

  /** A message for the job's current state; undefined when the subscription does not want this event. */
  message(job: JobResource, subscription: WebhookSubscription | undefined, owner: string | undefined, event: WebhookEvent, at: Date, streamId?: string): OutboxMessage | undefined {
    if (!subscription?.events.includes(event)) return undefined;
    return {
      // Terminal events happen once per job: one id, whoever reports them. Others repeat (retries, steps).
      messageId: messageId(job.id, event, occurrence(job, event, streamId)),
      jobId: job.id,
      event,
      url: subscription.url,
      body: webhookBody(event, at, job),
      ...(owner ? { owner } : {}),
      order: streamId ? streamIdScore(streamId) : at.getTime() * 1000,
    };
  }

  async enqueue(messages: readonly OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const ttl = jobRetentionSeconds(this.config);
    const chain = this.redis.multi();
    for (const m of messages) {
      if (m.order === undefined) continue;
      const pending = this.keys.webhook(m.jobId).pending;
      chain.zadd(pending, "NX", m.order, m.messageId).expire(pending, ttl);
    }
    await chain.exec();
    await this.queue.addBulk(messages.map((m) => ({ name: m.event, data: m, opts: this.jobOptions(m.messageId) })));
  }

  /** Sends a past message again (same id and body, new signature): a new delivery job outside the chain. */
  async redeliver(original: OutboxMessage): Promise<string> {
    const { order: _unordered, ...message } = original;
    const deliveryId = `${original.messageId}.r-${randomUUID()}`;
    await this.queue.add(message.event, message, this.jobOptions(deliveryId));
    return deliveryId;
  }

  async find(deliveryId: string): Promise<OutboxMessage | undefined> {
    return (await this.queue.getJob(deliveryId))?.data;
  }

  private jobOptions(jobId: string) {
    return {
      jobId,
      delay: this.config.WEBHOOK_RETRY_SCHEDULE[0],
      attempts: this.config.WEBHOOK_RETRY_SCHEDULE.length,
      backoff: { type: "webhook" },
      // Delivered messages are kept for redelivery; dead letters as long as failed jobs.
      removeOnComplete: { age: this.config.KEEP_COMPLETED_SECONDS },
      removeOnFail: { age: this.config.KEEP_FAILED_SECONDS },
    };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
