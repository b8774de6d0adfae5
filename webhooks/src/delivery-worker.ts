import { DelayedError, UnrecoverableError, type Job, type Worker } from "bullmq";
import type { Redis } from "ioredis";
import {
  WEBHOOK_QUEUE,
  WebhookDeliveryLog,
  WebhookDestinationPolicy,
  jobRetentionSeconds,
  redisKeys,
  startWorker,
  webhookQueue,
  type Config,
  type DeliveryAttempt,
  type DeliveryLogEntry,
  type Logger,
  type OutboxMessage,
  type WebhookEvent,
  type WebhookOutbox,
} from "@videosdgx/shared";
import { postWebhook } from "./post-webhook.js";

/** The signing secrets for a message: the submitting API key's own, else the server's. */
export type SecretsFor = (owner: string | undefined) => Promise<readonly string[]>;

/** A failed attempt that will be tried again after `delayMs` (schedule with jitter, or the receiver's Retry-After). */
class RetryLater extends Error {
  constructor(message: string, readonly delayMs: number) {
    super(message);
  }
}

/** ±20 %: receivers that failed together are not all retried in the same instant. */
const jitter = (ms: number) => Math.round(ms * (0.8 + Math.random() * 0.4));

/**
 * Delivers the outbox: one BullMQ job per message, retried on the Standard Webhooks schedule
 * (`WEBHOOK_RETRY_SCHEDULE`), dead-lettered (failed, kept) after the last attempt, stopped by a 410.
 * A job's messages arrive in order: a message waits until every earlier one has finished.
 */
export function createDeliveryWorker(
  config: Config,
  connection: Redis,
  redis: Redis,
  outbox: WebhookOutbox,
  secretsFor: SecretsFor,
  log: Logger,
): Worker<OutboxMessage, DeliveryAttempt, WebhookEvent> {
  const keys = redisKeys(config.QUEUE_PREFIX);
  const deliveries = new WebhookDeliveryLog(redis, keys, config);
  const destinations = new WebhookDestinationPolicy(config.WEBHOOK_ALLOW_HOSTS);
  const schedule = config.WEBHOOK_RETRY_SCHEDULE;

  /** A message's last word: its outcome on the job, and its place in the chain given up to the next one. */
  const settle = async (m: OutboxMessage, entry: DeliveryLogEntry) => {
    await deliveries.record(m.jobId, entry);
    if (m.order !== undefined) await redis.zrem(keys.webhook(m.jobId).pending, m.messageId);
  };

  /**
   * The oldest unfinished message of the job is the only one of its chain that may be sent. A head whose
   * delivery job has finished or is gone (removed from the dashboard, failed by stalls, a message enqueued
   * again after it was delivered) no longer holds the chain: it is dropped here, whatever left it behind.
   */
  const isTurn = async (m: OutboxMessage) => {
    if (m.order === undefined) return true;
    const pending = keys.webhook(m.jobId).pending;
    for (;;) {
      const [head] = await redis.zrange(pending, 0, 0);
      if (head === undefined || head === m.messageId) return true;
      const state = await outbox.queue.getJobState(head);
      if (state !== "unknown" && state !== "completed" && state !== "failed") return false;
      await redis.zrem(pending, head);
    }
  };

  const process = async (job: Job<OutboxMessage, DeliveryAttempt, WebhookEvent>, m: OutboxMessage, token?: string): Promise<DeliveryAttempt> => {
    if (!(await isTurn(m))) {
      // Waiting is not an attempt: polled at growing intervals while the earlier message is retried.
      await job.moveToDelayed(Date.now() + Math.min(10000, 100 * 2 ** Math.min(job.attemptsStarted, 7)), token);
      throw new DelayedError();
    }
    const base = { message_id: m.messageId, event: m.event, at: new Date().toISOString() };
    if ((await redis.get(keys.webhook(m.jobId).gone)) === m.url) {
      await settle(m, { ...base, outcome: "skipped", error: "the receiver answered 410 Gone to an earlier message" });
      return { ok: false, error: "skipped after 410", durationMs: 0 };
    }
    const secrets = await secretsFor(m.owner);
    if (secrets.length === 0) {
      // Unsigned messages are never sent: a receiver could not tell them from forgeries.
      await settle(m, { ...base, outcome: "dead", error: "no signing secret: the submitting key has none and WEBHOOK_SECRET is unset" });
      throw new UnrecoverableError("no signing secret for this message");
    }
    const result = await postWebhook({ url: m.url, messageId: m.messageId, body: m.body, secrets }, destinations, config.WEBHOOK_TIMEOUT_MS);
    const attempt = job.attemptsMade + 1;
    const entry: DeliveryLogEntry = {
      ...base,
      outcome: "delivered",
      attempt,
      ...(result.statusCode !== undefined ? { status_code: result.statusCode } : {}),
      ...(result.error !== undefined ? { error: result.error } : {}),
      duration_ms: result.durationMs,
    };
    if (result.ok) {
      await settle(m, entry);
      return result;
    }
    const why = result.error ?? `HTTP ${result.statusCode}`;
    if (result.statusCode === 410) {
      await redis.set(keys.webhook(m.jobId).gone, m.url, "EX", jobRetentionSeconds(config));
      await settle(m, { ...entry, outcome: "gone" });
      throw new UnrecoverableError(`410 Gone: ${m.url} asked not to be sent more`);
    }
    if (attempt >= (job.opts.attempts ?? 1)) {
      await settle(m, { ...entry, outcome: "dead" });
      log.warn("webhook dead-lettered", { message_id: m.messageId, url: m.url, attempts: attempt, error: why });
      throw new Error(`dead-lettered after ${attempt} attempts: ${why}`);
    }
    const delayMs = Math.max(jitter(schedule[attempt]!), result.retryAfterMs ?? 0);
    await deliveries.record(m.jobId, { ...entry, outcome: "retrying", next_attempt_at: new Date(Date.now() + delayMs).toISOString() });
    throw new RetryLater(why, delayMs);
  };

  const worker = startWorker(webhookQueue, WEBHOOK_QUEUE, process, {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WEBHOOK_CONCURRENCY,
    settings: { backoffStrategy: (_attempts, _type, err) => (err instanceof RetryLater ? err.delayMs : 0) },
  });
  worker.on("error", (err) => log.error("webhook worker error", { error: err.message }));
  return worker;
}
