import type { Redis } from "ioredis";
import { redisKeys, type RedisKeys } from "../queues.js";
import { luaScript } from "./lua-scripts.js";

type MemoryKeys = ReturnType<RedisKeys["memory"]>;

export interface Grant {
  holder: string;
  token: string;
  bytes: number;
}

export type ReserveResult = { granted: true; grant: Grant; sum: number } | { granted: false; heldByOthers: number };

export interface LedgerState {
  budget: number;
  reservations: Record<string, number>;
  sum: number;
  highWater: number;
}

const SCRIPTS = { reserve: "ledger-reserve", renew: "ledger-renew", release: "ledger-release", live: "ledger-live" } as const;
type LedgerRedis = Redis & {
  ledgerReserve(...args: (string | number)[]): Promise<[number, number | string, number]>;
  ledgerRenew(...args: (string | number)[]): Promise<number>;
  ledgerRelease(...args: (string | number)[]): Promise<number>;
  ledgerLive(...args: string[]): Promise<string[]>;
};

/** Every ledger script starts with ledger-expire.lua, so no grant outlives its lease in any reply. */
function defineLedgerScripts(redis: Redis): LedgerRedis {
  for (const [name, file] of Object.entries(SCRIPTS)) {
    const command = `ledger${name[0]!.toUpperCase()}${name.slice(1)}`;
    if (!(command in redis)) redis.defineCommand(command, { numberOfKeys: name === "reserve" ? 5 : 3, lua: luaScript("ledger-expire") + luaScript(file) });
  }
  return redis as LedgerRedis;
}

/** One host's live reservations (holder -> bytes); those of holders whose lease ran out are freed first. */
export async function liveReservations(redis: Redis, keys: MemoryKeys): Promise<Record<string, number>> {
  const flat = await defineLedgerScripts(redis).ledgerLive(keys.reservations, keys.leases, keys.tokens);
  const held: Record<string, number> = {};
  for (let i = 0; i < flat.length; i += 2) held[flat[i]!] = Number(flat[i + 1]);
  return held;
}

/**
 * One host's memory budget held in Redis: reservations are leases with fencing tokens, granted only
 * while the sum stays within the budget. Every change is one Lua script, so it is atomic across all
 * workers on all connections.
 */
export class MemoryLedger {
  private readonly redis: LedgerRedis;
  private readonly keys;

  constructor(redis: Redis, prefix: string, readonly host: string, readonly budget: number, readonly leaseMs: number) {
    this.keys = redisKeys(prefix).memory(host);
    this.redis = defineLedgerScripts(redis);
  }

  private get leaseKeys(): string[] {
    return [this.keys.reservations, this.keys.leases, this.keys.tokens];
  }

  /** Reserves `bytes` for `holder` (replacing its earlier grant, which is fenced off). */
  async reserve(holder: string, bytes: number): Promise<ReserveResult> {
    const [ok, tokenOrOthers, sum] = await this.redis.ledgerReserve(
      ...this.leaseKeys, this.keys.fence, this.keys.highWater, holder, bytes, this.budget, this.leaseMs,
    );
    if (ok === 1) return { granted: true, grant: { holder, token: String(tokenOrOthers), bytes }, sum: Number(sum) };
    return { granted: false, heldByOthers: Number(tokenOrOthers) };
  }

  /** Extends the lease; with `shrinkTo`, lowers the reservation (peak load -> resident). False: the grant is lost. */
  async renew(grant: Grant, shrinkTo?: number): Promise<boolean> {
    const ok = await this.redis.ledgerRenew(...this.leaseKeys, grant.holder, grant.token, this.leaseMs, shrinkTo ?? "");
    if (ok === 1 && shrinkTo !== undefined && shrinkTo < grant.bytes) grant.bytes = shrinkTo;
    return ok === 1;
  }

  /** Gives the memory back; false when the grant had already been lost (nothing changed). */
  async release(grant: Grant): Promise<boolean> {
    return (await this.redis.ledgerRelease(...this.leaseKeys, grant.holder, grant.token)) >= 0;
  }

  async state(): Promise<LedgerState> {
    const [reservations, high] = await Promise.all([liveReservations(this.redis, this.keys), this.redis.get(this.keys.highWater)]);
    return {
      budget: this.budget,
      reservations,
      sum: Object.values(reservations).reduce((a, b) => a + b, 0),
      highWater: Number(high ?? 0),
    };
  }
}
