import type { Redis } from "ioredis";
import { liveReservations, type RedisKeys, type WorkerInfo } from "@videosdgx/shared";

export interface HostView {
  host: string;
  models: string[];
  workers: WorkerInfo[];
  /** The host's own ledger: its budget (as its workers report it) and what each holder has reserved. */
  memory: { budget_bytes: number; reserved_bytes: number; high_water_bytes: number; reservations: Record<string, number> };
  /** Why workers of this host take no jobs (ffmpeg, OUTPUTS_DIR, the output store). */
  environment_problems: { worker: string; model: string; code: string; message: string }[];
}

/** Every host with a live worker, each with its own memory ledger (one per HOST_ID) and workers. */
export async function readHosts(redis: Redis, keys: RedisKeys, workers: WorkerInfo[]): Promise<HostView[]> {
  const hosts = [...new Set(workers.map((w) => w.host))].sort();
  return Promise.all(
    hosts.map(async (host) => {
      const mine = workers.filter((w) => w.host === host);
      const [held, high] = await Promise.all([liveReservations(redis, keys.memory(host)), redis.get(keys.memory(host).highWater)]);
      return {
        host,
        models: [...new Set(mine.map((w) => w.model))].sort(),
        workers: mine,
        memory: {
          budget_bytes: Math.max(0, ...mine.map((w) => w.budget_bytes)),
          reserved_bytes: Object.values(held).reduce((a, b) => a + b, 0),
          high_water_bytes: Number(high ?? 0),
          reservations: held,
        },
        environment_problems: mine.flatMap((w) => (w.environment ? [{ worker: w.id, model: w.model, ...w.environment }] : [])),
      };
    }),
  );
}
