import type { Redis } from "ioredis";
import { pickNext, queueName, readLiveWorkers, type GpuSlots, type BullLayout, type GpuWaiter, type RedisKeys } from "@videosdgx/shared";
import { Wakeup } from "./wakeup.js";

/** A waiter entry left for a next job that has not been claimed yet is only honoured this long. */
const NEXT_JOB_CLAIM_MS = 5000;
/** Upper bound between two looks at the board when no event arrives (a lost message, a dead holder). */
const RECHECK_MS = 1000;

type Waiter = GpuWaiter & { claimUntil?: number };

export interface GpuGateDeps {
  slots: GpuSlots;
  redis: Redis;
  keys: RedisKeys;
  /** Where the model's next waiting job is read from. */
  bull: BullLayout;
  workerId: string;
  model: string;
  maxWaitMs: number;
}

/**
 * This worker's turn at the host's GPU. Every waiting worker runs the same policy (pickNext) over the
 * same board of waiters and only the one it picks takes a slot, atomically (gpu-grant.lua); a slot's
 * release wakes the others through pub/sub.
 */
export class GpuGate {
  private readonly wakeup = new Wakeup(RECHECK_MS);
  /** The job holding this worker's slot: its submission time and when the slot was granted. */
  private held: { since: number; grantedAt: number } | undefined;

  constructor(private readonly deps: GpuGateDeps) {}

  /** Called for every message on the GPU events channel. */
  onEvent(): void {
    this.wakeup.wakeAll();
  }

  /** Waits for a slot; `onWait` runs while waiting (progress, cancellation) and may throw to give up. */
  async acquire(job: { priority: number; since: number }, loaded: boolean, onWait: () => Promise<void>): Promise<void> {
    const { slots, workerId, model } = this.deps;
    await slots.wait({ workerId, model, loaded, priority: job.priority, since: job.since });
    try {
      while (!(await this.myTurn())) {
        await onWait();
        await this.wakeup.next();
      }
      this.held = { since: job.since, grantedAt: Date.now() };
    } catch (err) {
      await slots.forget([workerId]);
      throw err;
    }
  }

  private async myTurn(): Promise<boolean> {
    const { slots, workerId } = this.deps;
    const now = Date.now();
    const [waiters, live] = await Promise.all([slots.waiters<Waiter>(), readLiveWorkers(this.deps.redis, this.deps.keys)]);
    const liveIds = new Set(live.map((w) => w.id));
    const valid = (w: Waiter) => w.workerId === workerId || (liveIds.has(w.workerId) && (w.claimUntil === undefined || w.claimUntil > now));
    await slots.forget(waiters.filter((w) => !valid(w)).map((w) => w.workerId));
    const pick = pickNext(waiters.filter(valid), this.deps.maxWaitMs);
    return pick?.workerId === workerId && (await slots.grant(workerId));
  }

  /**
   * After a job. When more jobs of this model are queued, the worker stays in line for the next one
   * before freeing the slot: its model is loaded, so the policy may rightly keep the GPU here. The slot's
   * time is charged to the older jobs still waiting (the policy's passing budget).
   */
  async finish(loaded: boolean): Promise<void> {
    const held = this.held;
    if (!held) return;
    const { slots, workerId, model } = this.deps;
    const since = await this.nextQueuedSince();
    if (since !== undefined) {
      const next: Waiter = { workerId, model, loaded, priority: 0, since, claimUntil: Date.now() + NEXT_JOB_CLAIM_MS };
      await slots.wait(next);
    }
    this.held = undefined;
    await slots.release(workerId, { since: held.since, heldMs: Date.now() - held.grantedAt });
  }

  /** Heartbeat: keeps the slot's lease while a job runs. */
  async renew(): Promise<void> {
    if (this.held) await this.deps.slots.renew(this.deps.workerId);
  }

  /** Submission time of the oldest job waiting in this model's queue (BullMQ takes from the list's tail). */
  private nextQueuedSince(): Promise<number | undefined> {
    return this.deps.bull.nextWaitingSince(this.deps.redis, queueName(this.deps.model));
  }
}
