import type { Redis } from "ioredis";
import { luaScript } from "../memory/lua-scripts.js";
import { redisKeys } from "../queues.js";
import type { GpuCandidate } from "./policy.js";

type SlotsRedis = Redis & {
  gpuGrant(...args: (string | number)[]): Promise<number>;
  gpuRenew(...args: (string | number)[]): Promise<number>;
};

/**
 * A host's GPU slots in Redis: a counting semaphore whose holders are leases (a dead worker's slot comes
 * back when its lease runs out), plus the board of waiters the scheduling policy chooses from.
 */
export class GpuSlots {
  private readonly redis: SlotsRedis;
  readonly keys;

  constructor(redis: Redis, prefix: string, host: string, readonly slots: number, readonly leaseMs: number) {
    this.keys = redisKeys(prefix).gpu(host);
    if (!("gpuGrant" in redis)) {
      redis.defineCommand("gpuGrant", { numberOfKeys: 3, lua: luaScript("gpu-grant") });
      redis.defineCommand("gpuRenew", { numberOfKeys: 1, lua: luaScript("gpu-renew") });
    }
    this.redis = redis as SlotsRedis;
  }

  async wait(candidate: GpuCandidate): Promise<void> {
    await this.redis.hset(this.keys.waiters, candidate.workerId, JSON.stringify(candidate));
    await this.redis.publish(this.keys.events, "changed");
  }

  async waiters(): Promise<GpuCandidate[]> {
    return Object.values(await this.redis.hgetall(this.keys.waiters)).map((v) => JSON.parse(v) as GpuCandidate);
  }

  async forget(workerIds: string[]): Promise<void> {
    if (workerIds.length > 0) await this.redis.hdel(this.keys.waiters, ...workerIds);
  }

  async grant(workerId: string): Promise<boolean> {
    return (await this.redis.gpuGrant(this.keys.holders, this.keys.waiters, this.keys.highWater, workerId, this.slots, this.leaseMs)) === 1;
  }

  /** Extends a holder's lease; false when it no longer holds a slot. */
  async renew(workerId: string): Promise<boolean> {
    return (await this.redis.gpuRenew(this.keys.holders, workerId, this.leaseMs)) === 1;
  }

  /** Frees the slot. A waiter entry the worker made for its next job stays: it waits on. */
  async release(workerId: string): Promise<void> {
    await this.redis.multi().zrem(this.keys.holders, workerId).publish(this.keys.events, "changed").exec();
  }

  async highWater(): Promise<number> {
    return Number(await this.redis.get(this.keys.highWater)) || 0;
  }
}
