import type { Redis } from "ioredis";
import type { RedisKeys } from "../queues.js";

/** A worker as its heartbeat describes it. */
export interface WorkerInfo {
  id: string;
  model: string;
  host: string;
  pid: number;
  loaded: boolean;
  busy: boolean;
  reserved_bytes: number;
  budget_bytes: number;
  last_used_at: string | null;
}

/** Workers whose heartbeat has not expired, from the sorted set plus one hash each. */
export async function readLiveWorkers(redis: Redis, keys: RedisKeys): Promise<WorkerInfo[]> {
  const ids = await redis.zrangebyscore(keys.workers, Date.now(), "+inf");
  const rows = await Promise.all(ids.map((id) => redis.hgetall(keys.worker(id)).then((h) => ({ id, h }))));
  return rows
    .filter(({ h }) => h.model !== undefined)
    .map(({ id, h }) => ({
      id,
      model: h.model!,
      host: h.host ?? "",
      pid: Number(h.pid),
      loaded: h.loaded === "1",
      busy: h.busy === "1",
      reserved_bytes: Number(h.reserved_bytes ?? 0),
      budget_bytes: Number(h.budget_bytes ?? 0),
      last_used_at: Number(h.last_used_at) > 0 ? new Date(Number(h.last_used_at)).toISOString() : null,
    }));
}
