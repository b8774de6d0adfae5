import type { Redis } from "ioredis";
import { BullLayout, queueName, type InputStore } from "@videosdgx/shared";

/** An input younger than this may belong to a job the API is adding right now (it writes the file first). */
const SETTLE_MS = 10 * 60 * 1000;

/**
 * Removes the inputs of this model's jobs that retention (BullMQ's removeOnComplete/removeOnFail) has
 * removed: an input lives as long as its job, so a failed job retried later still has its image.
 * Keys are `<job id>.<ext>` and job ids start with the model's name.
 */
export async function sweepInputs(store: InputStore, redis: Redis, layout: BullLayout, model: string, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const { key, writtenAtMs } of await store.list()) {
    const jobId = key.replace(/\.[a-z0-9]+$/, "");
    if (!jobId.startsWith(`${model}-`) || now - writtenAtMs < SETTLE_MS) continue;
    if (await layout.jobExists(redis, queueName(model), jobId)) continue;
    await store.remove(key);
    removed.push(key);
  }
  return removed;
}
