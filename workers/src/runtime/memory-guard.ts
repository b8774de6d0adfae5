import type { Redis } from "ioredis";
import {
  chooseEvictionVictim,
  JobFailure,
  readLiveWorkers,
  readMemInfo,
  type GpuWaiter,
  type Grant,
  type Manifest,
  type MemoryLedger,
  type MemoryWait,
  type RedisKeys,
} from "@videosdgx/shared";
import { Wakeup } from "./wakeup.js";

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
/** Upper bound on one wait between attempts when no "freed" message comes (e.g. an outside process exits). */
const RECHECK_MS = 2000;

export interface MemoryGuardDeps {
  ledger: MemoryLedger;
  redis: Redis;
  /** A connection of its own: it sits in subscriber mode. */
  subscriber: Redis;
  keys: RedisKeys;
  workerId: string;
  /** The jobs waiting for this host's GPU: a model one of them needs is unloaded last. */
  gpuWaiters: () => Promise<GpuWaiter[]>;
  /** Asked by another worker that needs memory: unload (or restart empty) if idle; true when memory was given back. */
  onEvictRequest: () => Promise<boolean>;
  /** Channels besides the memory events this worker listens to, and what to do with their messages. */
  otherChannels: Record<string, (message: string) => void>;
}

/**
 * This worker's side of the host's memory ledger: reserve before loading (peak footprint), shrink to the
 * resident footprint once loaded, release on unload. While memory is short, asks the least recently used
 * idle model on the host to unload and waits for a "freed" message rather than polling.
 */
export class MemoryGuard {
  private readonly memKeys;
  private readonly freed = new Wakeup(RECHECK_MS);
  grant: Grant | undefined;

  constructor(private readonly deps: MemoryGuardDeps) {
    this.memKeys = deps.keys.memory(deps.ledger.host);
    deps.subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.memKeys.events) deps.otherChannels[channel]?.(message);
      else if (message === "freed") this.freed.wakeAll();
      else if (message === `evict:${deps.workerId}`) void deps.onEvictRequest();
    });
  }

  async start(): Promise<void> {
    await this.deps.subscriber.subscribe(this.memKeys.events, ...Object.keys(this.deps.otherChannels));
  }

  /** Resident bytes to plan for: the manifest's estimate, or what a load really took here if more. */
  async residentBytes(name: string, manifest: Manifest): Promise<number> {
    const measured = Number(await this.deps.redis.hget(this.memKeys.measured, name)) || 0;
    return Math.max(manifest.memory.resident_bytes, measured);
  }

  /** Waits until a reservation for loading the model is granted and the host really has the memory. */
  async acquire(name: string, manifest: Manifest, onWait: (wait: MemoryWait) => Promise<void>): Promise<Grant> {
    const { ledger } = this.deps;
    const needed = Math.ceil((await this.residentBytes(name, manifest)) * manifest.memory.load_peak_factor);
    if (needed > ledger.budget) {
      throw new JobFailure("out_of_memory", `model ${name} needs ${gb(needed)} to load, more than this host's memory budget of ${gb(ledger.budget)}`, false);
    }
    for (;;) {
      const result = await ledger.reserve(this.deps.workerId, needed);
      const { availableBytes } = await readMemInfo();
      let wait: MemoryWait;
      if (result.granted) {
        if (availableBytes >= needed) {
          this.grant = result.grant;
          return result.grant;
        }
        await this.giveBackWanted(result.grant);
        wait = {
          host: ledger.host, available_bytes: availableBytes, needed_bytes: needed, held_by_others_bytes: result.sum - needed, budget_bytes: ledger.budget,
          message: `waiting for memory: loading ${name} needs ${gb(needed)}, the host has ${gb(availableBytes)} available (the rest is held outside the platform)`,
        };
      } else {
        const victim = await this.askIdleToUnload();
        wait = {
          host: ledger.host, available_bytes: availableBytes, needed_bytes: needed, held_by_others_bytes: result.heldByOthers, budget_bytes: ledger.budget,
          message:
            `waiting for memory: loading ${name} needs ${gb(needed)}, ${gb(result.heldByOthers)} of the ${gb(ledger.budget)} budget is held by loaded models; ` +
            (victim ? `asked idle model ${victim} to unload` : "every loaded model is running a job"),
        };
      }
      await onWait(wait);
      await this.freed.next();
    }
  }

  /** Once loaded: the reservation shrinks from the load peak to the resident footprint; the growth is recorded. */
  async loaded(name: string, manifest: Manifest, grownBytes: number): Promise<void> {
    if (!this.grant) return;
    if (grownBytes > 0) await this.deps.redis.hset(this.memKeys.measured, name, grownBytes);
    const resident = Math.max(manifest.memory.resident_bytes, grownBytes);
    if (!(await this.deps.ledger.renew(this.grant, resident))) this.grant = undefined;
  }

  /**
   * A grant the host cannot back yet: the reservation goes back to what the process held before asking
   * (what an earlier model left behind, still in the process), or away entirely when it held nothing.
   */
  private async giveBackWanted(grant: Grant): Promise<void> {
    const held = this.grant;
    if (!held) {
      await this.deps.ledger.release(grant);
      return;
    }
    // The new grant fenced the old token off: keep the new one, shrunk back.
    this.grant = (await this.deps.ledger.renew(grant, held.bytes)) ? grant : undefined;
  }

  /** Heartbeat: extends the lease. False means the grant is gone and the model must be unloaded. */
  async renew(): Promise<boolean> {
    if (!this.grant) return true;
    if (await this.deps.ledger.renew(this.grant)) return true;
    this.grant = undefined;
    return false;
  }

  /** Gives the whole reservation back: none of it is held any more (a full give-back, a failed load, the process ending). */
  async release(): Promise<void> {
    const grant = this.grant;
    this.grant = undefined;
    if (!grant) return;
    await this.deps.ledger.release(grant);
    await this.deps.redis.publish(this.memKeys.events, "freed");
  }

  /**
   * After an unload: the reservation keeps only what the process still holds (freed sessions may stay in
   * the allocator rather than go back to the OS), so the ledger never counts memory as free that is not.
   */
  async unloaded(retainedBytes: number): Promise<void> {
    const grant = this.grant;
    if (!grant) return;
    if (retainedBytes <= 0) return this.release();
    if (retainedBytes >= grant.bytes) return;
    if (!(await this.deps.ledger.renew(grant, retainedBytes))) this.grant = undefined;
    await this.deps.redis.publish(this.memKeys.events, "freed");
  }

  /** Asks every idle model on the host to unload (after a real out-of-memory); returns their names. */
  async evictAllIdle(): Promise<string[]> {
    const idle = await this.idleNeighbours();
    await Promise.all(idle.map((w) => this.deps.redis.publish(this.memKeys.events, `evict:${w.id}`)));
    return idle.map((w) => w.model);
  }

  private async idleNeighbours() {
    return (await readLiveWorkers(this.deps.redis, this.deps.keys))
      // An unloaded worker may still hold what its model left in the process: asked, it restarts empty.
      .filter((w) => w.host === this.deps.ledger.host && (w.loaded || w.reserved_bytes > 0) && !w.busy && w.id !== this.deps.workerId);
  }

  /** The policy's choice among idle models (chooseEvictionVictim); a worker running a job is never asked. */
  private async askIdleToUnload(): Promise<string | undefined> {
    const [idle, waiters] = await Promise.all([this.idleNeighbours(), this.deps.gpuWaiters()]);
    const waitingSince = new Map(waiters.map((w) => [w.workerId, w.since]));
    const victim = chooseEvictionVictim(
      idle.map((w) => ({ id: w.id, model: w.model, lastUsedAt: w.last_used_at ? Date.parse(w.last_used_at) : 0, waitingSince: waitingSince.get(w.id) })),
    );
    if (!victim) return undefined;
    await this.deps.redis.publish(this.memKeys.events, `evict:${victim.id}`);
    return victim.model;
  }
}
