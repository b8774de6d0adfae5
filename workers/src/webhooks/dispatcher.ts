import type { Redis } from "ioredis";
import {
  ALL_JOBS,
  JobReader,
  NotFoundError,
  listModelNames,
  modelOfJobId,
  parseFailure,
  queueName,
  redisKeys,
  type Config,
  type JobData,
  type Logger,
  type OutboxMessage,
  type WebhookEvent,
  type WebhookOutbox,
} from "@videosdgx/shared";

/** BullMQ's stream events that a client can subscribe to, by the name clients know them under. */
const EVENT_OF: Record<string, (fields: Record<string, string>) => WebhookEvent> = {
  waiting: () => "queued",
  active: () => "started",
  progress: () => "progress",
  completed: () => "completed",
  failed: (f) => (parseFailure(f.failedReason).code === "cancelled" ? "cancelled" : "failed"),
};

type Subscriber = Pick<JobData, "webhook"> & { owner?: string };

const BATCH = 500;
const BLOCK_MS = 2000;
const MODEL_RESCAN_MS = 30000;
const CACHE_SIZE = 10000;

/**
 * Turns job events into webhook messages. It follows every model's BullMQ events stream (written by
 * BullMQ's own scripts in the same step as each state change, on every host) from a cursor kept in Redis,
 * so events that happen while it is down are sent when it is back. Messages have deterministic ids, so a
 * batch read again after a crash is not sent twice.
 */
export class WebhookDispatcher {
  private readonly keys;
  private readonly cursors = new Map<string, string>();
  private readonly subscribers = new Map<string, Subscriber | null>();
  private modelsScannedAt = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly config: Config,
    private readonly redis: Redis,
    /** A connection of its own: XREAD BLOCK holds it. */
    private readonly blocking: Redis,
    private readonly reader: JobReader,
    private readonly outbox: WebhookOutbox,
    private readonly log: Logger,
  ) {
    this.keys = redisKeys(config.QUEUE_PREFIX);
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.blocking.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.scanModels();
        await this.dispatchOnce();
      } catch (err) {
        if (this.stopped) break;
        this.log.warn("webhook dispatch interrupted; retrying", { error: (err as Error).message });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** New model folders get their streams followed without a restart. */
  private async scanModels(): Promise<void> {
    if (Date.now() - this.modelsScannedAt < MODEL_RESCAN_MS) return;
    for (const model of await listModelNames(this.config.MODELS_DIR)) {
      if (this.cursors.has(model)) continue;
      // No cursor yet: the stream from its start, so nothing said before the first start is missed.
      this.cursors.set(model, (await this.redis.get(this.keys.webhookCursor(model))) ?? "0-0");
    }
    this.modelsScannedAt = Date.now();
  }

  private async dispatchOnce(): Promise<void> {
    const models = [...this.cursors.keys()];
    if (models.length === 0) {
      await new Promise((r) => setTimeout(r, BLOCK_MS));
      return;
    }
    const streams = models.map((m) => this.keys.events(queueName(m)));
    const read = (await this.blocking.xread("COUNT", BATCH, "BLOCK", BLOCK_MS, "STREAMS", ...streams, ...models.map((m) => this.cursors.get(m)!))) as
      | [string, [string, string[]][]][]
      | null;
    for (const [stream, entries] of read ?? []) {
      const model = models[streams.indexOf(stream)]!;
      const messages: OutboxMessage[] = [];
      for (const [id, flat] of entries) {
        const message = await this.messageFor(id, fieldsOf(flat));
        if (message) messages.push(message);
      }
      await this.outbox.enqueue(messages);
      const last = entries.at(-1)![0];
      await this.redis.set(this.keys.webhookCursor(model), last);
      this.cursors.set(model, last);
    }
  }

  private async messageFor(streamId: string, fields: Record<string, string>): Promise<OutboxMessage | undefined> {
    const eventOf = EVENT_OF[fields.event ?? ""];
    const jobId = fields.jobId;
    if (!eventOf || !jobId) return undefined;
    const event = eventOf(fields);
    const subscriber = await this.subscriber(jobId);
    if (!subscriber?.webhook?.events.includes(event)) return undefined;
    try {
      const job = await this.reader.get(jobId, ALL_JOBS);
      return this.outbox.message(job, subscriber.webhook, subscriber.owner, event, new Date(Number(streamId.split("-")[0])), streamId);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined; // removed since (retention): nothing to tell
      throw err;
    }
  }

  /** Who wants to hear about a job: read once from its data, which does not change. */
  private async subscriber(jobId: string): Promise<Subscriber | null> {
    const cached = this.subscribers.get(jobId);
    if (cached !== undefined) return cached;
    const model = modelOfJobId(jobId);
    const raw = model ? await this.redis.hget(this.keys.job(queueName(model), jobId), "data") : null;
    const data = raw ? (JSON.parse(raw) as JobData & { owner?: string }) : undefined;
    const subscriber = data?.webhook ? { webhook: data.webhook, ...(data.owner ? { owner: data.owner } : {}) } : null;
    if (this.subscribers.size >= CACHE_SIZE) this.subscribers.delete(this.subscribers.keys().next().value!);
    this.subscribers.set(jobId, subscriber);
    return subscriber;
  }
}

function fieldsOf(flat: string[]): Record<string, string> {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return f;
}
