import type { Redis } from "ioredis";
import { readHeartbeat } from "../contracts/worker-heartbeat.js";
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
  return rows.flatMap(({ id, h }) => {
    const beat = readHeartbeat(h);
    if (!beat) return [];
    return [
      {
        id,
        model: beat.model,
        host: beat.host,
        pid: beat.pid,
        loaded: beat.loaded,
        busy: beat.busy,
        reserved_bytes: beat.reservedBytes,
        budget_bytes: beat.budgetBytes,
        last_used_at: beat.lastUsedAt > 0 ? new Date(beat.lastUsedAt).toISOString() : null,
      },
    ];
  });
}
