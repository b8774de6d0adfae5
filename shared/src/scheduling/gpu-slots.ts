import type { Redis } from "ioredis";
import { luaScript } from "../memory/lua-scripts.js";
import { redisKeys } from "../queues.js";
import { passedMs, type GpuCandidate, type GpuWaiter, type PassLog } from "./policy.js";

/**
 * The pass logs outlive every wait they record: each charge renews this, and a day without any job
 * finishing on the host's GPU means no waiting job's budget is left to keep (nor a host that is gone).
 */
const PASSES_TTL_MS = 24 * 60 * 60 * 1000;

type SlotsRedis = Redis & {
  gpuGrant(...args: (string | number)[]): Promise<number>;
  gpuRenew(...args: (string | number)[]): Promise<number>;
  gpuRelease(...args: (string | number)[]): Promise<number>;
};

/**
 * A host's GPU slots in Redis: a counting semaphore whose holders are leases (a dead worker's slot comes
 * back when its lease runs out), plus the board of waiters the scheduling policy chooses from and, per
 * model, the GPU time of the younger jobs that passed its waiting jobs (the policy's budget).
 */
export class GpuSlots {
  private readonly redis: SlotsRedis;
  readonly keys;

  constructor(redis: Redis, prefix: string, host: string, readonly slots: number, readonly leaseMs: number) {
    this.keys = redisKeys(prefix).gpu(host);
    if (!("gpuGrant" in redis)) {
      redis.defineCommand("gpuGrant", { numberOfKeys: 3, lua: luaScript("gpu-grant") });
      redis.defineCommand("gpuRenew", { numberOfKeys: 1, lua: luaScript("gpu-renew") });
      redis.defineCommand("gpuRelease", { numberOfKeys: 3, lua: luaScript("gpu-release") });
    }
    this.redis = redis as SlotsRedis;
  }

  async wait(waiter: GpuWaiter): Promise<void> {
    await this.redis.hset(this.keys.waiters, waiter.workerId, JSON.stringify(waiter));
    await this.redis.publish(this.keys.events, "changed");
  }

  /** The waiters with how long younger jobs have held the GPU while each one's job waited. */
  async waiters<W extends GpuWaiter = GpuWaiter>(): Promise<(W & GpuCandidate)[]> {
    const [waiters, passes] = await Promise.all([this.redis.hgetall(this.keys.waiters), this.redis.hgetall(this.keys.passes)]);
    return Object.values(waiters).map((v) => {
      const w = JSON.parse(v) as W;
      return { ...w, passedMs: passedMs(JSON.parse(passes[w.model] ?? "[]") as PassLog, w.since) };
    });
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

  /**
   * Frees the slot and charges the job that held it to the older jobs still waiting (gpu-release.lua).
   * A waiter entry the worker made for its next job stays: it waits on.
   */
  async release(workerId: string, job: { since: number; heldMs: number }): Promise<void> {
    await this.redis.gpuRelease(this.keys.holders, this.keys.waiters, this.keys.passes, workerId, job.since, Math.round(job.heldMs), this.keys.events, PASSES_TTL_MS);
  }

  async highWater(): Promise<number> {
    return Number(await this.redis.get(this.keys.highWater)) || 0;
  }
}
