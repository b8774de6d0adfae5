import type { Redis } from "ioredis";
import {
  ConflictError,
  GENERATE_JOB,
  JobReader,
  NotFoundError,
  ServiceUnavailableError,
  jobRetentionSeconds,
  modelOfJobId,
  newJobId,
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

type QueueState = "waiting" | "prioritized" | "delayed" | "active" | "completed" | "failed";
const ALL_STATES: QueueState[] = ["waiting", "prioritized", "delayed", "active", "completed", "failed"];
const STATES_FOR: Record<JobStatus, QueueState[]> = {
  queued: ["waiting", "prioritized", "delayed"],
  running: ["active"],
  completed: ["completed"],
  failed: ["failed"],
  cancelled: ["failed", "waiting", "prioritized", "delayed"],
};

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
  constructor(config: Config, redis: Redis, private readonly outbox: WebhookOutbox) {
    super(config, redis);
  }

  /** Enqueues a job; with an owner (the submitting key's id), also in that key's index of jobs. */
  async submit(data: JobData, id = newJobId(data.model)): Promise<JobResource> {
    this.requireRedis();
    // Every job already waiting is ahead of a new one (FIFO). Sent just before the add on the same
    // connection, the length (and the owner index writes) cost no extra round trip.
    const [ahead, job] = await Promise.all([
      this.bull.waitingCount(this.redis, queueName(data.model)),
      this.queue(data.model).add(GENERATE_JOB, data, { jobId: id }) as Promise<GenerationJob>,
      data.owner === undefined ? undefined : this.indexOwner(data.owner, id),
    ]);
    const { webhook } = data;
    return toJobResource(job, "waiting", false, ahead, webhook && { url: webhook.url, events: webhook.events, deliveries: [] });
  }

  /** Index entries older than the longest retention can only point at removed jobs: trimmed as we go. */
  private async indexOwner(owner: string, id: string): Promise<void> {
    const key = this.keys.ownerJobs(owner);
    const now = Date.now();
    const retentionMs = jobRetentionSeconds(this.config) * 1000;
    await Promise.all([this.redis.zadd(key, now, id), this.redis.zremrangebyscore(key, "-inf", now - retentionMs)]);
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

  async list(models: string[], status: JobStatus | undefined, limit: number, scope: JobScope): Promise<JobResource[]> {
    this.requireRedis();
    if (!("all" in scope)) return this.listOwned(scope.owner, new Set(models), status, limit);
    const types = status ? STATES_FOR[status] : ALL_STATES;
    const jobs = (await Promise.all(models.map((m) => this.queue(m).getJobs([...types], 0, limit - 1)))).flat() as GenerationJob[];
    const views = await Promise.all(jobs.filter(Boolean).map((j) => this.view(j)));
    return views
      .filter((v) => !status || v.status === status)
      .sort((a, b) => b.created_at.localeCompare(a.created_at))
      .slice(0, limit);
  }

  /**
   * One key's jobs, newest first, from its index (not by scanning every queue). Entries of jobs removed
   * by retention are skipped and pruned. Only the newest `limit * OWNER_SCAN_PER_RESULT` entries are
   * read, so a filtered list may hold fewer than `limit` jobs when older ones would match.
   */
  private async listOwned(owner: string, models: Set<string>, status: JobStatus | undefined, limit: number): Promise<JobResource[]> {
    const key = this.keys.ownerJobs(owner);
    const found: JobResource[] = [];
    const gone: string[] = [];
    const settled = Date.now() - INDEX_SETTLE_MS;
    const scanned = limit * OWNER_SCAN_PER_RESULT;
    for (let offset = 0; found.length < limit && offset < scanned; offset += OWNER_PAGE) {
      const page = await this.redis.zrevrange(key, offset, offset + OWNER_PAGE - 1, "WITHSCORES");
      if (page.length === 0) break;
      const entries: [string, number][] = [];
      for (let i = 0; i < page.length; i += 2) entries.push([page[i]!, Number(page[i + 1])]);
      const wanted = entries.filter(([id]) => models.has(modelOfJobId(id) ?? ""));
      const jobs = await Promise.all(wanted.map(([id]) => this.queue(modelOfJobId(id)!).getJob(id) as Promise<GenerationJob | undefined>));
      const views = await Promise.all(jobs.map((j) => j && this.view(j)));
      wanted.forEach(([id, at], i) => {
        const v = views[i];
        if (!v) {
          if (at < settled) gone.push(id);
        } else if ((!status || v.status === status) && found.length < limit) found.push(v);
      });
    }
    if (gone.length > 0) await this.redis.zrem(key, ...gone);
    return found;
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
    await this.redis.set(this.keys.cancel(id), "1", "EX", this.config.KEEP_FAILED_SECONDS);
    const view = await this.view(job);
    // A queued job is cancelled now, though a worker records it only when it reaches the job: tell the
    // client now. The worker's own report later has the same message id and is not sent twice.
    if (state !== "active") {
      const message = this.outbox.message(view, job.data.webhook, job.data.owner, "cancelled", new Date());
      if (message) await this.outbox.enqueue([message]);
    }
    return view;
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
}
