import { QueueEventsProducer } from "bullmq";
import type { Redis } from "ioredis";
import {
  ALL_JOBS,
  BullLayout,
  ConflictError,
  GENERATE_JOB,
  JobReader,
  NotFoundError,
  ServiceUnavailableError,
  ValidationError,
  jobRetentionSeconds,
  modelOfJobId,
  newJobId,
  posterFileOf,
  previewFileOf,
  queueName,
  toJobResource,
  type Config,
  type GenerationJob,
  type JobData,
  type JobResource,
  type JobStatus,
  type JobScope,
  type WebhookOutbox,
} from "@videosdgx/shared";
import { ReplicaAck } from "./replica-ack.js";

type QueueState = "waiting" | "prioritized" | "delayed" | "active" | "completed" | "failed";
const ALL_STATES: QueueState[] = ["waiting", "prioritized", "delayed", "active", "completed", "failed"];
const FINISHED_STATES = new Set<QueueState>(["completed", "failed"]);
const STATES_FOR: Record<JobStatus, QueueState[]> = {
  queued: ["waiting", "prioritized", "delayed"],
  running: ["active"],
  completed: ["completed"],
  failed: ["failed"],
  cancelled: ["failed", "waiting", "prioritized", "delayed"],
};

/** A page's last job: the next page holds the jobs created before it (ties broken by id). */
interface Cursor {
  at: number;
  id: string;
}
export interface JobPage {
  jobs: JobResource[];
  /** Pass as `before` for the next page; absent on the last page. */
  next_before?: string;
}
const newestFirst = (a: GenerationJob, b: GenerationJob) => b.timestamp - a.timestamp || (b.id! < a.id! ? -1 : b.id! > a.id! ? 1 : 0);
const isOlder = (j: GenerationJob, c: Cursor) => j.timestamp < c.at || (j.timestamp === c.at && j.id! < c.id);
const staleCursor = (before: string) =>
  new ValidationError(`before: no job ${before} to page from (it may have been removed); list again without before`, [{ field: "before", message: "not a listed job" }]);

/** Owner index entries younger than this may belong to a job being added right now: never pruned. */
const INDEX_SETTLE_MS = 60000;
const OWNER_PAGE = 100;
/**
 * A filtered list of one key's jobs reads at most this many index entries per job asked for: a key with
 * a long history and few matches must not cost a lookup of every job it ever submitted.
 */
const OWNER_SCAN_PER_RESULT = 10;

/** Jobs as users see them, over one BullMQ queue per model. The API's only writer of jobs. */
export class JobStore extends JobReader {
  private readonly producers = new Map<string, QueueEventsProducer>();
  /** Queues on the submission connection (`writer`), whose writes `ack` waits for. */
  private readonly submissions: JobReader;

  constructor(
    config: Config,
    redis: Redis,
    private readonly outbox: WebhookOutbox,
    /** The connection submissions are written through: `redis` itself unless replicas must acknowledge. */
    private readonly writer: Redis = redis,
    private readonly ack = new ReplicaAck(writer, 0, 0),
  ) {
    super(config, redis);
    this.submissions = writer === redis ? this : new JobReader(config, writer);
  }

  /** Publishes the platform's own events (see QUEUE_EVENT_KINDS) into a model's events stream. */
  private events(model: string): QueueEventsProducer {
    let producer = this.producers.get(model);
    if (!producer) {
      producer = new QueueEventsProducer(queueName(model), { connection: this.redis, prefix: this.config.QUEUE_PREFIX });
      producer.on("error", () => undefined); // the publish itself rejects, and the request answers 503
      this.producers.set(model, producer);
    }
    return producer;
  }

  /**
   * Enqueues a job; with an owner (the submitting key's id), also in that key's index of jobs. Resolves
   * once the job is acknowledged: with REDIS_MIN_REPLICAS_ACK, once that many replicas hold it.
   */
  async submit(data: JobData, id = newJobId(data.model)): Promise<JobResource> {
    this.requireRedis();
    this.requireRedis(this.writer);
    // Every job already waiting is ahead of a new one (FIFO). Sent just before the add on the same
    // connection, the length (and the owner index writes) cost no extra round trip.
    const [ahead, job] = await Promise.all([
      this.bull.waitingCount(this.writer, queueName(data.model), this.keys.cancel("")),
      this.submissions.queue(data.model).add(GENERATE_JOB, data, { jobId: id }) as Promise<GenerationJob>,
      data.owner === undefined ? undefined : this.indexOwner(data.owner, id),
    ]);
    await this.ack.confirm(id);
    const { webhook } = data;
    return toJobResource(job, "waiting", false, ahead, webhook && { url: webhook.url, events: webhook.events, deliveries: [] });
  }

  /**
   * A job found again (an Idempotency-Key repeat) is acknowledged like a new one. WAIT covers what this
   * process's submission connection wrote, the job included when this API created it.
   */
  confirmReplicated(id: string): Promise<void> {
    return this.ack.confirm(id);
  }

  override async close(): Promise<void> {
    await Promise.all([...this.producers.values()].map((p) => p.close()));
    await Promise.all([super.close(), this.submissions === this ? undefined : this.submissions.close()]);
  }

  /** Index entries older than the longest retention can only point at removed jobs: trimmed as we go. */
  private async indexOwner(owner: string, id: string): Promise<void> {
    const key = this.keys.ownerJobs(owner);
    const now = Date.now();
    const retentionMs = jobRetentionSeconds(this.config) * 1000;
    await Promise.all([this.writer.zadd(key, now, id), this.writer.zremrangebyscore(key, "-inf", now - retentionMs)]);
  }

  /** A job another request is creating right now (same Idempotency-Key): waits briefly for it to exist. */
  async getSoon(id: string, scope: JobScope, timeoutMs = 3000): Promise<JobResource> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.get(id, scope);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        if (Date.now() > deadline) throw new ServiceUnavailableError("the first request with this Idempotency-Key is still being processed; retry shortly");
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  /**
   * One page of jobs, newest first (created time, then id). `before` (a job id, the previous page's last)
   * continues after that job; `next_before` is set when more may follow.
   */
  async list(models: string[], status: JobStatus | undefined, limit: number, scope: JobScope, before?: string): Promise<JobPage> {
    this.requireRedis();
    if (!("all" in scope)) return this.listOwned(scope.owner, new Set(models), status, limit, before);
    return this.listAll(models, status, limit, before === undefined ? undefined : await this.cursorOf(before));
  }

  /** Where a page continues: the job named by `before`, which must still exist. */
  private async cursorOf(before: string): Promise<Cursor> {
    const job = await this.find(before, ALL_JOBS).catch((err: unknown) => {
      if (err instanceof NotFoundError) throw staleCursor(before);
      throw err;
    });
    return { at: job.timestamp, id: job.id! };
  }

  /**
   * Every job of the models, newest first. Queued and running jobs are few (capped per model) and read
   * whole; finished ones are read newest-finished first, page by page, until no older-finished job can
   * be among the newest created (a job finishes after it is created).
   */
  private async listAll(models: string[], status: JobStatus | undefined, limit: number, cursor: Cursor | undefined): Promise<JobPage> {
    const types = status ? STATES_FOR[status] : ALL_STATES;
    const live = types.filter((t) => !FINISHED_STATES.has(t));
    const finished = types.filter((t) => FINISHED_STATES.has(t));
    const found: GenerationJob[] = [];
    const keep = (jobs: (GenerationJob | undefined)[]) => {
      for (const j of jobs) if (j && (!cursor || isOlder(j, cursor))) found.push(j);
      found.sort(newestFirst);
      found.splice(limit);
    };
    await Promise.all(models.map(async (m) => {
      if (live.length > 0) keep((await this.queue(m).getJobs(live, 0, -1)) as GenerationJob[]);
      for (const type of finished) {
        for (let start = 0; ; start += limit) {
          const page = (await this.queue(m).getJobs([type], start, start + limit - 1)) as GenerationJob[];
          keep(page);
          const oldestFinish = page.at(-1)?.finishedOn ?? 0;
          if (page.length < limit || (found.length === limit && oldestFinish < found.at(-1)!.timestamp)) break;
        }
      }
    }));
    const views = await Promise.all(found.map((j) => this.view(j)));
    // A status a queue state holds with another (cancelled among failed) is sorted out here; the cursor
    // is the last job read, shown or not.
    const jobs = views.filter((v) => !status || v.status === status);
    return found.length === limit ? { jobs, next_before: found.at(-1)!.id! } : { jobs };
  }

  /**
   * One key's jobs, newest first, from its index (not by scanning every queue). Entries of jobs removed
   * by retention are skipped and pruned. Only the newest `limit * OWNER_SCAN_PER_RESULT` entries are
   * read, so a filtered list may hold fewer than `limit` jobs when older ones would match; `next_before`
   * (the last entry read) goes on from there.
   */
  private async listOwned(owner: string, models: Set<string>, status: JobStatus | undefined, limit: number, before: string | undefined): Promise<JobPage> {
    const key = this.keys.ownerJobs(owner);
    const found: JobResource[] = [];
    const gone: string[] = [];
    const settled = Date.now() - INDEX_SETTLE_MS;
    const scanned = limit * OWNER_SCAN_PER_RESULT;
    const rank = before === undefined ? -1 : await this.redis.zrevrank(key, before);
    if (rank === null) throw staleCursor(before!);
    const first = rank + 1;
    let lastRead: string | undefined;
    for (let offset = first; found.length < limit && offset < first + scanned; offset += OWNER_PAGE) {
      const count = Math.min(OWNER_PAGE, first + scanned - offset);
      const page = await this.redis.zrevrange(key, offset, offset + count - 1, "WITHSCORES");
      const entries: [string, number][] = [];
      for (let i = 0; i < page.length; i += 2) entries.push([page[i]!, Number(page[i + 1])]);
      const jobs = await Promise.all(entries.map(([id]) => {
        const model = modelOfJobId(id) ?? "";
        return models.has(model) ? (this.queue(model).getJob(id) as Promise<GenerationJob | undefined>) : undefined;
      }));
      const views = await Promise.all(jobs.map((j) => j && this.view(j)));
      for (const [i, [id, at]] of entries.entries()) {
        if (found.length === limit) break;
        lastRead = id;
        const v = views[i];
        if (!v) {
          if (jobs[i] === undefined && models.has(modelOfJobId(id) ?? "") && at < settled) gone.push(id);
        } else if (!status || v.status === status) found.push(v);
      }
      if (page.length < count * 2) break;
    }
    if (gone.length > 0) await this.redis.zrem(key, ...gone);
    // The cursor must stay in the index: a pruned entry cannot be one.
    const cursor = lastRead !== undefined && !gone.includes(lastRead) ? lastRead : found.at(-1)?.id;
    if (cursor === undefined) return { jobs: found };
    const [at, size] = await Promise.all([this.redis.zrevrank(key, cursor), this.redis.zcard(key)]);
    return at !== null && at < size - 1 ? { jobs: found, next_before: cursor } : { jobs: found };
  }

  /**
   * Marks the job cancelled. A queued job is cancelled at once (its worker finalises it without running
   * it); a running job stops at its next step.
   */
  async cancel(id: string, scope: JobScope): Promise<JobResource> {
    const job = await this.find(id, scope);
    const state = await job.getState();
    if (state === "completed" || state === "failed") {
      throw new ConflictError(`job ${id} has already finished (${(await this.view(job)).status})`);
    }
    // Kept as long as any finished job is (at least a second: KEEP_FAILED_SECONDS=0 is valid, EX 0 is not).
    await this.redis.set(this.keys.cancel(id), "1", "EX", jobRetentionSeconds(this.config));
    const view = await this.view(job);
    // A queued job is cancelled now, though a worker records it only when it reaches the job: tell the
    // client (webhook and event streams) now. The worker's own report later has the same webhook
    // message id and is not sent twice; an event stream has ended at this event.
    if (state !== "active") {
      const message = this.outbox.message(view, job.data.webhook, job.data.owner, "cancelled", new Date());
      if (message) await this.outbox.enqueue([message]);
      await this.events(job.data.model).publishEvent({ eventName: "cancelled", jobId: id }, BullLayout.EVENTS_MAX_LEN);
    }
    return view;
  }

  /**
   * Queues a failed or cancelled job again with BullMQ's `job.retry()`: same id, params and webhook, its
   * failed attempts reset so it gets every attempt again (`attempts` keeps counting the runs started). A
   * cancellation not yet recorded by a worker (the job still queued) is not a finished job: 409.
   */
  async retry(id: string, scope: JobScope): Promise<JobResource> {
    const job = await this.find(id, scope);
    if ((await job.getState()) !== "failed") throw new ConflictError(`job ${id} is ${(await this.view(job)).status}; only a failed or cancelled job can be retried`);
    await this.redis.del(this.keys.cancel(id));
    try {
      await job.retry("failed", { resetAttemptsMade: true });
    } catch (err) {
      // Another request retried it first: the job is no longer in the failed set.
      if ((await job.getState()) !== "failed") throw new ConflictError(`job ${id} is already queued again`);
      throw err;
    }
    return this.view(job);
  }

  /** Sends one of the job's webhook messages again (default: the latest), with the same id and body. */
  async redeliverWebhook(id: string, messageId: string | undefined, scope: JobScope): Promise<{ message_id: string; delivery_id: string }> {
    const job = await this.find(id, scope);
    if (!job.data.webhook) throw new ConflictError(`job ${id} has no webhook`);
    const sent = (await this.view(job)).webhook!.deliveries;
    const chosen = messageId ?? sent.at(-1)?.message_id;
    if (!chosen || !sent.some((d) => d.message_id === chosen)) {
      throw new NotFoundError(messageId ? `job ${id} has no webhook message ${messageId}` : `job ${id} has sent no webhook message yet`);
    }
    const original = await this.outbox.find(chosen);
    if (!original) throw new ConflictError(`webhook message ${chosen} is past its retention and cannot be sent again`);
    return { message_id: chosen, delivery_id: await this.outbox.redeliver(original) };
  }

  /**
   * The job's video: the finished file, or for a running chunk-wise job the growing one and how many of
   * its bytes are a playable file (as the worker recorded in its progress).
   */
  async videoFile(id: string, scope: JobScope): Promise<{ file: string; readyBytes?: number }> {
    const job = await this.find(id, scope);
    const view = await this.view(job);
    const partial = view.progress.partial_video;
    if (view.status === "running" && partial && partial.bytes > 0) return { file: partial.file, readyBytes: partial.bytes };
    if (view.status !== "completed") throw new ConflictError(`job ${id} is ${view.status}; its video exists once it is completed`);
    return { file: job.returnvalue.video_file };
  }

  /** The latest preview's file, once the worker has announced one (a 404 before). */
  async previewFile(id: string, scope: JobScope): Promise<string> {
    const job = await this.find(id, scope);
    const view = await this.view(job, { deliveries: false });
    if (!view.progress.preview) {
      throw new NotFoundError(`job ${id} has no preview (yet): previews come every PREVIEW_EVERY_STEPS steps, for models whose videosdgx.json has latent_rgb_factors`);
    }
    return previewFileOf(job.id!);
  }

  /** The poster image's file: there from completion on (a 404 before, like a file not made yet). */
  async posterFile(id: string, scope: JobScope): Promise<string> {
    const job = await this.find(id, scope);
    const view = await this.view(job, { deliveries: false });
    if (view.status !== "completed") throw new NotFoundError(`job ${id} is ${view.status}; its poster exists once it is completed`);
    return posterFileOf(job.returnvalue.video_file);
  }
}
