import type { Redis } from "ioredis";
import { redisKeys } from "../queues.js";
import { luaScript } from "./lua-scripts.js";

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

const SCRIPTS = { reserve: "ledger-reserve", renew: "ledger-renew", release: "ledger-release" } as const;
type LedgerRedis = Redis & {
  ledgerReserve(...args: (string | number)[]): Promise<[number, number | string, number]>;
  ledgerRenew(...args: (string | number)[]): Promise<number>;
  ledgerRelease(...args: (string | number)[]): Promise<number>;
};

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
    for (const [name, file] of Object.entries(SCRIPTS)) {
      const command = `ledger${name[0]!.toUpperCase()}${name.slice(1)}`;
      if (!(command in redis)) redis.defineCommand(command, { numberOfKeys: name === "reserve" ? 5 : 3, lua: luaScript(file) });
    }
    this.redis = redis as LedgerRedis;
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
    const [reservations, high] = await Promise.all([this.redis.hgetall(this.keys.reservations), this.redis.get(this.keys.highWater)]);
    const parsed = Object.fromEntries(Object.entries(reservations).map(([k, v]) => [k, Number(v)]));
    return {
      budget: this.budget,
      reservations: parsed,
      sum: Object.values(parsed).reduce((a, b) => a + b, 0),
      highWater: Number(high ?? 0),
    };
  }
}
