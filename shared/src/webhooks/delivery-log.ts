import type { Redis } from "ioredis";
import type { Config } from "../config.js";
import { jobRetentionSeconds, type RedisKeys } from "../queues.js";
import type { WebhookDeliveryView, WebhookView } from "../schemas/job-resource.js";
import type { WebhookEvent, WebhookSubscription } from "./subscription.js";

export const DELIVERY_OUTCOMES = ["delivered", "retrying", "dead", "gone", "skipped"] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/** The platform's delivery totals (`keys.webhookTotals`): attempts per outcome and their summed duration. */
export interface DeliveryTotals {
  outcomes: Record<DeliveryOutcome, number>;
  attemptSeconds: number;
}

export async function readDeliveryTotals(redis: Redis, keys: RedisKeys): Promise<DeliveryTotals> {
  const raw = await redis.hgetall(keys.webhookTotals);
  const outcomes = Object.fromEntries(DELIVERY_OUTCOMES.map((o) => [o, Number(raw[o] ?? 0)])) as Record<DeliveryOutcome, number>;
  return { outcomes, attemptSeconds: Number(raw.attempt_ms ?? 0) / 1000 };
}

/** One attempt (or a skip) of one message, as kept on the job. */
export interface DeliveryLogEntry {
  message_id: string;
  event: WebhookEvent;
  outcome: DeliveryOutcome;
  at: string;
  attempt?: number;
  status_code?: number;
  error?: string;
  duration_ms?: number;
  next_attempt_at?: string;
}

/** The entries kept per job: enough for every event of a long job and its retries. */
const MAX_ENTRIES = 1000;

/**
 * Each delivery attempt of a job's webhook messages, kept beside the job (a Redis list, expiring with
 * the job's retention), and the view of it that `GET /v1/jobs/:id` shows under `webhook`.
 */
export class WebhookDeliveryLog {
  private readonly ttlSeconds: number;

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys, config: Config) {
    this.ttlSeconds = jobRetentionSeconds(config);
  }

  async record(jobId: string, entry: DeliveryLogEntry): Promise<void> {
    const key = this.keys.webhook(jobId).log;
    const totals = this.keys.webhookTotals;
    // The totals change in the same transaction as the log: /metrics never counts an entry the log lacks.
    await this.redis
      .multi()
      .rpush(key, JSON.stringify(entry))
      .ltrim(key, -MAX_ENTRIES, -1)
      .expire(key, this.ttlSeconds)
      .hincrby(totals, entry.outcome, 1)
      .hincrby(totals, "attempt_ms", Math.round(entry.duration_ms ?? 0))
      .exec();
  }

  async view(jobId: string, subscription: WebhookSubscription): Promise<WebhookView> {
    const keys = this.keys.webhook(jobId);
    const [[, raw], [, pending]] = (await this.redis.multi().lrange(keys.log, 0, -1).zrange(keys.pending, 0, -1).exec()) as [[null, string[]], [null, string[]]];
    const byMessage = new Map<string, WebhookDeliveryView>();
    for (const line of raw) {
      const e = JSON.parse(line) as DeliveryLogEntry;
      let d = byMessage.get(e.message_id);
      if (!d) byMessage.set(e.message_id, (d = { message_id: e.message_id, event: e.event, status: "pending", attempts: [] }));
      d.status = e.outcome === "retrying" ? "retrying" : e.outcome;
      if (e.attempt !== undefined) {
        d.attempts.push({
          attempt: e.attempt,
          at: e.at,
          ...(e.status_code !== undefined ? { status_code: e.status_code } : {}),
          ...(e.error !== undefined ? { error: e.error } : {}),
          duration_ms: e.duration_ms ?? 0,
        });
      }
      if (e.next_attempt_at) d.next_attempt_at = e.next_attempt_at;
      else delete d.next_attempt_at;
    }
    // Messages waiting for their first attempt (behind an earlier message of the same job).
    for (const id of pending) {
      const event = eventOfMessage(id);
      if (event && !byMessage.has(id)) byMessage.set(id, { message_id: id, event, status: "pending", attempts: [] });
    }
    return { url: subscription.url, events: subscription.events, deliveries: [...byMessage.values()] };
  }
}

/** Message ids are `msg_<jobId>_<event>[_<occurrence>]`: a stream id, or a run's end in ms (see the outbox). */
export function messageId(jobId: string, event: WebhookEvent, occurrence?: string): string {
  return `msg_${jobId}_${event}${occurrence ? `_${occurrence}` : ""}`;
}

function eventOfMessage(id: string): WebhookEvent | undefined {
  return /_(queued|started|progress|completed|failed|cancelled)(_\d+(-\d+)?)?$/.exec(id)?.[1] as WebhookEvent | undefined;
}
