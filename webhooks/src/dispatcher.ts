import type { Redis } from "ioredis";
import {
  ALL_JOBS,
  BullLayout,
  JobDataSchema,
  JobReader,
  NotFoundError,
  TERMINAL_WEBHOOK_EVENTS,
  asOfEvent,
  clientEventOf,
  isAfterStreamId,
  isQueueEventKind,
  listModelNames,
  modelOfJobId,
  progressOf,
  queueName,
  redisKeys,
  streamIdTime,
  type Config,
  fieldsOf,
  readFailure,
  type JobData,
  type StreamEvent,
  type Logger,
  type OutboxMessage,
  type QueueEventKind,
  type WebhookEvent,
  type WebhookOutbox,
} from "@videosdgx/shared";

/** BullMQ's stream events that a client can subscribe to, by the name clients know them under. */
const EVENT_OF: Partial<Record<QueueEventKind, (e: StreamEvent) => WebhookEvent>> = {
  waiting: () => "queued",
  active: () => "started",
  progress: (e) => (clientEventOf("progress", progressOf("progress", e.data)) === "chunk" ? "chunk" : "progress"),
  completed: () => "completed",
  failed: (e) => (readFailure(e.failedReason).code === "cancelled" ? "cancelled" : "failed"),
};

type Subscriber = Pick<JobData, "webhook" | "owner">;

const BATCH = 500;
const BLOCK_MS = 2000;
const MODEL_RESCAN_MS = 30000;
const CACHE_SIZE = 10000;

/**
 * Turns job events into webhook messages. It follows every model's BullMQ events stream (written by
 * BullMQ's own scripts in the same step as each state change, on every host) from a cursor kept in Redis,
 * so events that happen while it is down are sent when it is back. Messages have deterministic ids, so a
 * batch read again after a crash is not sent twice. BullMQ caps each stream (about 10 000 entries): if
 * entries past the cursor were trimmed meanwhile, the jobs that finished since are found in BullMQ's
 * finished sets and their terminal messages sent; only their intermediate events are lost.
 */
export class WebhookDispatcher {
  private readonly keys;
  private readonly bull;
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
    this.bull = new BullLayout(config.QUEUE_PREFIX);
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
      await this.recoverIfTrimmed(model);
    }
    this.modelsScannedAt = Date.now();
  }

  private async dispatchOnce(): Promise<void> {
    const models = [...this.cursors.keys()];
    if (models.length === 0) {
      await new Promise((r) => setTimeout(r, BLOCK_MS));
      return;
    }
    const streams = models.map((m) => this.bull.events(queueName(m)));
    const read = (await this.blocking.xread("COUNT", BATCH, "BLOCK", BLOCK_MS, "STREAMS", ...streams, ...models.map((m) => this.cursors.get(m)!))) as
      | [string, [string, string[]][]][]
      | null;
    for (const [stream, entries] of read ?? []) {
      const model = models[streams.indexOf(stream)]!;
      await this.recoverIfTrimmed(model);
      const messages: OutboxMessage[] = [];
      for (const [id, flat] of entries) {
        const message = await this.messageFor(BullLayout.event(id, flat));
        if (message) messages.push(message);
      }
      await this.outbox.enqueue(messages);
      await this.saveCursor(model, entries.at(-1)![0]);
    }
  }

  private async saveCursor(model: string, id: string): Promise<void> {
    await this.redis.set(this.keys.webhookCursor(model), id);
    this.cursors.set(model, id);
  }

  /**
   * When BullMQ may have trimmed entries the dispatcher had not read yet (the oldest entry left is newer
   * than the cursor, or none is left though newer ones were written), the terminal messages of the jobs
   * that finished since the cursor are recovered. Idempotent: message ids are deterministic.
   */
  private async recoverIfTrimmed(model: string): Promise<void> {
    const cursor = this.cursors.get(model)!;
    if (cursor === "0-0") return;
    const info = fieldsOf((await this.redis.call("XINFO", "STREAM", this.bull.events(queueName(model))).catch(() => [])) as unknown[]);
    const empty = Number(info.length ?? 0) === 0;
    const newer = empty ? info["last-generated-id"] : info["recorded-first-entry-id"];
    if (newer === undefined || !isAfterStreamId(newer, cursor)) return;
    await this.outbox.enqueue(await this.recoverFinished(model, cursor));
    if (empty) await this.saveCursor(model, newer);
  }

  private async recoverFinished(model: string, cursor: string): Promise<OutboxMessage[]> {
    const messages: OutboxMessage[] = [];
    for (const state of ["completed", "failed"] as const) {
      for (const jobId of await this.bull.finishedSince(this.redis, queueName(model), state, streamIdTime(cursor))) {
        const subscriber = await this.subscriber(jobId);
        if (!subscriber?.webhook) continue;
        const job = await this.read(jobId);
        const event = job?.status;
        if (!job || !event || !TERMINAL_WEBHOOK_EVENTS.includes(event as WebhookEvent)) continue;
        const message = this.outbox.message(job, subscriber.webhook, subscriber.owner, event as WebhookEvent, new Date(job.finished_at ?? Date.now()));
        if (message) messages.push(message);
      }
    }
    this.log.warn("events were trimmed from the stream before they were read; terminal webhook messages recovered", { model, recovered: messages.length });
    return messages;
  }

  private async messageFor(e: StreamEvent): Promise<OutboxMessage | undefined> {
    const kind = e.event;
    const eventOf = isQueueEventKind(kind) ? EVENT_OF[kind] : undefined;
    const jobId = e.jobId;
    if (!eventOf || !jobId) return undefined;
    const event = eventOf(e);
    const subscriber = await this.subscriber(jobId);
    if (!subscriber?.webhook?.events.includes(event)) return undefined;
    // A cancelled job is over for its client: a worker reaching it later is not news.
    if (!TERMINAL_WEBHOOK_EVENTS.includes(event) && (await this.redis.exists(this.keys.cancel(jobId)))) return undefined;
    const job = await this.read(jobId);
    if (!job) return undefined;
    return this.outbox.message(asOfEvent(kind as QueueEventKind, progressOf(kind as QueueEventKind, e.data), job), subscriber.webhook, subscriber.owner, event, new Date(streamIdTime(e.id)), e.id);
  }

  private async read(jobId: string) {
    try {
      return await this.reader.get(jobId, ALL_JOBS, { deliveries: false }); // a webhook body carries no delivery log
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
    const raw = model ? await this.bull.jobData(this.redis, queueName(model), jobId) : undefined;
    let subscriber: Subscriber | null = null;
    const data = raw === undefined ? undefined : JobDataSchema.safeParse(raw);
    if (data?.success && data.data.webhook) subscriber = { webhook: data.data.webhook, ...(data.data.owner ? { owner: data.data.owner } : {}) };
    if (data && !data.success) this.log.error("job data does not match the generation queue's contract; its events are not sent", { job_id: jobId });
    if (this.subscribers.size >= CACHE_SIZE) this.subscribers.delete(this.subscribers.keys().next().value!);
    this.subscribers.set(jobId, subscriber);
    return subscriber;
  }
}
