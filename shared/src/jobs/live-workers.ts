import type { Redis } from "ioredis";
import { readHeartbeat } from "../contracts/worker-heartbeat.js";
import type { EnvironmentProblem } from "../contracts/generate-queue.js";
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
  /** Set while the worker takes no jobs because its host cannot run them (see EnvironmentProblem). */
  environment: EnvironmentProblem | null;
}

/**
 * The problem that keeps every live worker of `model` from taking jobs, or undefined when one of them can
 * (or none is alive: then nothing is known).
 */
export function modelEnvironmentProblem(workers: WorkerInfo[], model: string): EnvironmentProblem | undefined {
  const mine = workers.filter((w) => w.model === model);
  if (mine.length === 0 || mine.some((w) => !w.environment)) return undefined;
  return mine[0]!.environment!;
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
        environment: beat.environment ?? null,
      },
    ];
  });
}

/** Live workers read at most once per `maxAgeMs`: heartbeats come every few seconds, so a recent view is as good. */
export class RecentLiveWorkers {
  private seen: { at: number; workers: Promise<WorkerInfo[]> } | undefined;

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys, private readonly maxAgeMs = 1000) {}

  get(): Promise<WorkerInfo[]> {
    if (!this.seen || Date.now() - this.seen.at > this.maxAgeMs) {
      const workers = readLiveWorkers(this.redis, this.keys);
      this.seen = { at: Date.now(), workers };
      workers.catch(() => (this.seen = undefined));
    }
    return this.seen.workers;
  }
}
