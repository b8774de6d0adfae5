import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import {
  ConflictError,
  NotFoundError,
  ServiceUnavailableError,
  defaultJobOptions,
  modelOfJobId,
  newJobId,
  queueName,
  redisKeys,
  toJobResource,
  type Config,
  type EffectiveParams,
  type GenerationJob,
  type JobData,
  type JobOutput,
  type JobResource,
  type JobStatus,
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

/** Which jobs a caller may see: every job (admin), or those submitted with one API key. */
export type JobScope = { all: true } | { owner: string };
export const ALL_JOBS: JobScope = { all: true };

/** Owner index entries younger than this may belong to a job being added right now: never pruned. */
const INDEX_SETTLE_MS = 60000;
const OWNER_PAGE = 100;

/** Jobs as users see them, over one BullMQ queue per model. The API's only writer of jobs. */
export class JobStore {
  private readonly queues = new Map<string, Queue<JobData, JobOutput>>();
  private readonly keys;

  constructor(private readonly config: Config, private readonly redis: Redis) {
    this.keys = redisKeys(config.QUEUE_PREFIX);
  }

  queue(model: string): Queue<JobData, JobOutput> {
    let q = this.queues.get(model);
    if (!q) {
      q = new Queue<JobData, JobOutput>(queueName(model), {
        connection: this.redis,
        prefix: this.config.QUEUE_PREFIX,
        defaultJobOptions: defaultJobOptions(this.config),
      });
      q.on("error", () => undefined); // surfaced per request as 503; the connection retries on its own
      this.queues.set(model, q);
    }
    return q;
  }

  /**
   * BullMQ waits for a connection that is not ready yet; a request must not. Once connected, the
   * producer connection fails fast on its own (no offline queue).
   */
  private requireRedis(): void {
    if (this.redis.status !== "ready") throw new ServiceUnavailableError(`the job store (Redis) is unreachable (${this.redis.status}); try again shortly`);
  }

  /** Enqueues a job; with an owner (the submitting key's id), also in that key's index of jobs. */
  async submit(params: EffectiveParams, owner: string | undefined, id = newJobId(params.model)): Promise<JobResource> {
    this.requireRedis();
    const data: JobData = owner === undefined ? params : { ...params, owner };
    // Every job already waiting is ahead of a new one (FIFO). Sent just before the add on the same
    // connection, the length (and the owner index writes) cost no extra round trip.
    const [ahead, job] = await Promise.all([
      this.redis.llen(this.keys.waitList(queueName(params.model))),
      this.queue(params.model).add("generate", data, { jobId: id }) as Promise<GenerationJob>,
      owner === undefined ? undefined : this.indexOwner(owner, id),
    ]);
    return toJobResource(job, "waiting", false, ahead);
  }

  /** Index entries older than the longest retention can only point at removed jobs: trimmed as we go. */
  private async indexOwner(owner: string, id: string): Promise<void> {
    const key = this.keys.ownerJobs(owner);
    const now = Date.now();
    const retentionMs = Math.max(this.config.KEEP_COMPLETED_SECONDS, this.config.KEEP_FAILED_SECONDS) * 1000;
    await Promise.all([this.redis.zadd(key, now, id), this.redis.zremrangebyscore(key, "-inf", now - retentionMs)]);
  }

  /** A job the caller may see; another key's job is "not found" exactly like a missing one. */
  private async find(id: string, scope: JobScope): Promise<GenerationJob> {
    this.requireRedis();
    const model = modelOfJobId(id);
    const job = model ? ((await this.queue(model).getJob(id)) as GenerationJob | undefined) : undefined;
    if (!job || !("all" in scope || job.data.owner === scope.owner)) throw new NotFoundError(`no job with id ${id}`);
    return job;
  }

  /** Jobs ahead of this one: workers take from the tail of BullMQ's wait list. */
  async queuePosition(model: string, id: string): Promise<number | undefined> {
    const key = this.keys.waitList(queueName(model));
    const [[, index], [, length]] = (await this.redis.multi().lpos(key, id).llen(key).exec()) as [[null, number | null], [null, number]];
    return index === null ? undefined : length - 1 - index;
  }

  private async view(read: GenerationJob): Promise<JobResource> {
    const [state, cancelled] = await Promise.all([read.getState(), this.redis.exists(this.keys.cancel(read.id!))]);
    // The job was read before its state: if it finished in between, read it again, so a terminal state
    // never shows without its result or its reason.
    const finishedSince = (state === "completed" || state === "failed") && read.finishedOn === undefined;
    const job = finishedSince ? (((await this.queue(read.data.model).getJob(read.id!)) as GenerationJob | undefined) ?? read) : read;
    const position = state === "waiting" ? await this.queuePosition(job.data.model, job.id!) : undefined;
    return toJobResource(job, state, cancelled === 1, position);
  }

  async get(id: string, scope: JobScope): Promise<JobResource> {
    return this.view(await this.find(id, scope));
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
   * by retention are skipped and pruned.
   */
  private async listOwned(owner: string, models: Set<string>, status: JobStatus | undefined, limit: number): Promise<JobResource[]> {
    const key = this.keys.ownerJobs(owner);
    const found: JobResource[] = [];
    const gone: string[] = [];
    const settled = Date.now() - INDEX_SETTLE_MS;
    for (let offset = 0; found.length < limit; offset += OWNER_PAGE) {
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
    return this.view(job);
  }

  async videoFile(id: string, scope: JobScope): Promise<string> {
    const job = await this.find(id, scope);
    const view = await this.view(job);
    if (view.status !== "completed") throw new ConflictError(`job ${id} is ${view.status}; its video exists once it is completed`);
    return job.returnvalue.video_file;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
