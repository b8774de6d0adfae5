import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { BullLayout } from "../bullmq/layout.js";
import type { Config } from "../config.js";
import { generateQueue, modelOfQueue, queueName, type GENERATE_JOB, type JobData, type JobOutput } from "../contracts/generate-queue.js";
import { openQueue } from "../contracts/queue-contract.js";
import { ModelNameSchema } from "../models/manifest.js";
import { modelOfJobId, redisKeys, type RedisKeys } from "../queues.js";
import type { OutputStore } from "../storage/output-store.js";

/** The job an object belongs to: its key up to the first dot (`<job id>.mp4`, `<job id>.mp4.<attempt>.growing.part/...`). */
export function jobIdOfKey(key: string): string {
  const dot = key.indexOf(".");
  return dot < 0 ? key : key.slice(0, dot);
}

/** Jobs removed per queue and state in one sweep; the rest go at the next. */
const REMOVE_LIMIT = 1000;

type GenerateQueue = Queue<JobData, JobOutput, typeof GENERATE_JOB>;

/** What one sweep removed from one model's queue and from the output store. */
export interface SweptModel {
  model: string;
  jobs: number;
  objects: number;
}

/**
 * Retention of every model's jobs, run by every worker process: each OUTPUT_SWEEP_SECONDS it goes over
 * every generation queue under QUEUE_PREFIX (so a model with no worker left, or removed from the host,
 * is kept to the same rules) and, for each model no other process swept within the interval (a Redis
 * lock per model and output scope), removes the jobs finished longer ago than KEEP_COMPLETED_SECONDS /
 * KEEP_FAILED_SECONDS (BullMQ's count and age rules otherwise run only when a job of that queue
 * completes), then the files or objects of the model's removed jobs: in the bucket, or on this host's
 * disk (each host sweeps its own). A file is only ever written while its job exists (active), so a job
 * found gone can have no write still to come.
 */
export class Retention {
  private readonly queues = new Map<string, GenerateQueue>();
  private readonly layout: BullLayout;
  private readonly keys: RedisKeys;

  constructor(
    private readonly redis: Redis,
    private readonly config: Config,
    private readonly store: OutputStore,
  ) {
    this.layout = new BullLayout(config.QUEUE_PREFIX);
    this.keys = redisKeys(config.QUEUE_PREFIX);
  }

  /**
   * One sweep of every model this process takes the lock of; the models it removed anything of. Jobs go
   * first for all of them, so a store that is away holds back only the objects (found again next time).
   */
  async sweep(): Promise<SweptModel[]> {
    const taken: SweptModel[] = [];
    for (const q of await this.layout.queues(this.redis, queueName(""))) {
      const model = modelOfQueue(q);
      if (model === undefined || !ModelNameSchema.safeParse(model).success) continue;
      if ((await this.redis.set(this.keys.outputSweep(model, this.store.scope), String(Date.now()), "PX", this.config.OUTPUT_SWEEP_SECONDS * 1000, "NX")) !== "OK") continue;
      const queue = this.queue(model);
      const jobs = [
        ...(await this.layout.removeFinishedBefore(this.redis, queue, "completed", this.config.KEEP_COMPLETED_SECONDS * 1000, REMOVE_LIMIT)),
        ...(await this.layout.removeFinishedBefore(this.redis, queue, "failed", this.config.KEEP_FAILED_SECONDS * 1000, REMOVE_LIMIT)),
      ].length;
      taken.push({ model, jobs, objects: 0 });
    }
    for (const t of taken) t.objects = (await this.sweepObjects(t.model)).length;
    return taken.filter((t) => t.jobs > 0 || t.objects > 0);
  }

  /** Removes the objects of the model's jobs that are gone from its queue; the keys removed. */
  private async sweepObjects(model: string): Promise<string[]> {
    const byJob = new Map<string, string[]>();
    for await (const o of this.store.list(`${model}-`)) {
      const id = jobIdOfKey(o.key);
      if (modelOfJobId(id) !== model) continue;
      byJob.set(id, [...(byJob.get(id) ?? []), o.key]);
    }
    const gone: string[] = [];
    for (const [id, keys] of byJob) if (!(await this.layout.jobExists(this.redis, queueName(model), id))) gone.push(...keys);
    if (gone.length > 0) await this.store.remove(gone);
    return gone;
  }

  private queue(model: string): GenerateQueue {
    let q = this.queues.get(model);
    if (!q) {
      q = openQueue(generateQueue, queueName(model), { connection: this.redis, prefix: this.config.QUEUE_PREFIX });
      q.on("error", () => undefined); // the next sweep tries again
      this.queues.set(model, q);
    }
    return q;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
