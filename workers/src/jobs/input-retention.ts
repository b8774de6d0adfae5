import type { Redis } from "ioredis";
import { BullLayout, modelOfJobId, queueName, type InputStore } from "@videosdgx/shared";

/** An input younger than this may belong to a job the API is adding right now (it writes the file first). */
const SETTLE_MS = 10 * 60 * 1000;

/**
 * Removes the inputs of every model's jobs that retention has removed (a model with no worker left
 * included): an input lives as long as its job, so a failed job retried later still has its image.
 * Keys are `<job id>.<ext>` and job ids name their model's queue.
 */
export async function sweepInputs(store: InputStore, redis: Redis, layout: BullLayout, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const { key, writtenAtMs } of await store.list()) {
    const jobId = key.replace(/\.[a-z0-9]+$/, "");
    const model = modelOfJobId(jobId);
    if (model === undefined || now - writtenAtMs < SETTLE_MS) continue;
    if (await layout.jobExists(redis, queueName(model), jobId)) continue;
    await store.remove(key);
    removed.push(key);
  }
  return removed;
}
