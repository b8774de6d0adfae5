import type { Redis } from "ioredis";
import { heartbeatFields, type EnvironmentProblem, type RedisKeys } from "@videosdgx/shared";

export const HEARTBEAT_MS = 3000;
export const HEARTBEAT_TTL_MS = 10000;

export interface WorkerState {
  model: string;
  loaded: boolean;
  busy: boolean;
  reservedBytes: number;
  budgetBytes: number;
  lastUsedAt: number;
  /** Why the worker takes no jobs now, if it does not. */
  environment: EnvironmentProblem | undefined;
}

/**
 * Tells the API this worker is alive and what it holds: a hash per worker that expires on its own,
 * plus a sorted set scored by expiry so readers can find live workers without SCAN.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    readonly workerId: string,
    /** The host's name in the memory ledger, so workers find their neighbours. */
    private readonly hostId: string,
    private readonly state: () => WorkerState,
    /** Runs with every beat: the memory lease is renewed on the same rhythm. */
    private readonly onBeat: () => Promise<void>,
  ) {}

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
  }

  async beat(): Promise<void> {
    const s = this.state();
    const key = this.keys.worker(this.workerId);
    await this.redis
      .multi()
      .hset(key, heartbeatFields({ ...s, host: this.hostId, pid: process.pid, startedAt: this.startedAt }))
      .pexpire(key, HEARTBEAT_TTL_MS)
      .zadd(this.keys.workers, Date.now() + HEARTBEAT_TTL_MS, this.workerId)
      .exec()
      .catch(() => undefined); // Redis away: the next beat retries; readers see us expire meanwhile.
    await this.onBeat().catch(() => undefined);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.multi().del(this.keys.worker(this.workerId)).zrem(this.keys.workers, this.workerId).exec().catch(() => undefined);
  }
}
