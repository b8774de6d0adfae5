import type { Redis } from "ioredis";
import type { Config } from "../config.js";
import { generateQueue, queueName } from "../contracts/generate-queue.js";
import { openQueue } from "../contracts/queue-contract.js";
import { modelOfJobId, redisKeys } from "../queues.js";
import type { S3Outputs } from "./s3-outputs.js";

/** The job an object belongs to: its key up to the first dot (`<job id>.mp4`, `<job id>.mp4.<attempt>.growing.part/...`). */
export function jobIdOfKey(key: string): string {
  const dot = key.indexOf(".");
  return dot < 0 ? key : key.slice(0, dot);
}

/**
 * Retention for the output store: BullMQ removes a job past KEEP_COMPLETED_* / KEEP_FAILED_*; its objects
 * go at the next sweep (every OUTPUT_SWEEP_SECONDS). A model's objects are swept by one of its workers at
 * a time (a Redis lock), which asks its own queue whether each job is still there. An object is only
 * ever written while its job exists (active), so a job found gone can have no upload still to come.
 */
export class OutputRetention {
  private readonly queue;
  private readonly lockKey: string;

  constructor(
    private readonly store: S3Outputs,
    private readonly redis: Redis,
    private readonly config: Config,
    private readonly model: string,
  ) {
    this.queue = openQueue(generateQueue, queueName(model), { connection: redis, prefix: config.QUEUE_PREFIX });
    this.queue.on("error", () => undefined); // the next sweep tries again
    this.lockKey = redisKeys(config.QUEUE_PREFIX).outputSweep(model);
  }

  /** One sweep if no other worker of the model swept within the interval; the keys removed. */
  async sweep(): Promise<string[]> {
    const taken = await this.redis.set(this.lockKey, String(Date.now()), "PX", this.config.OUTPUT_SWEEP_SECONDS * 1000, "NX");
    if (taken !== "OK") return [];
    const byJob = new Map<string, string[]>();
    for await (const o of this.store.list(`${this.model}-`)) {
      const id = jobIdOfKey(o.key);
      if (modelOfJobId(id) !== this.model) continue;
      byJob.set(id, [...(byJob.get(id) ?? []), o.key]);
    }
    const gone: string[] = [];
    for (const [id, keys] of byJob) if (!(await this.queue.getJob(id))) gone.push(...keys);
    if (gone.length > 0) await this.store.remove(gone);
    return gone;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
