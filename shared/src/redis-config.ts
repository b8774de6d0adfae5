import { z } from "zod";
import { envBool } from "./env-fields.js";

export interface SentinelAddress {
  host: string;
  port: number;
}

/** `host:port` or `[ipv6]:port`; undefined when the entry is not one. */
function parseSentinel(entry: string): SentinelAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(entry);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * How processes reach Redis through Sentinel, and how many replicas must hold a job before the API
 * acknowledges it. Its own block of settings (spread into the config schema) so the whole topic is here.
 */
export const redisHaFields = {
  REDIS_SENTINELS: z
    .string()
    .transform((s, ctx) => {
      const entries = s.split(/[\s,]+/).filter(Boolean);
      const parsed = entries.map(parseSentinel);
      const bad = entries.filter((_, i) => parsed[i] === undefined);
      if (entries.length === 0 || bad.length > 0) {
        ctx.addIssue({ code: "custom", message: `must be a comma-separated list of host:port (bad: ${bad.join(", ") || "empty"})` });
        return z.NEVER;
      }
      return parsed as SentinelAddress[];
    })
    .optional(),
  REDIS_SENTINEL_NAME: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "must be the master name of the sentinels' `sentinel monitor` line").optional(),
  /** With sentinels: the primary's and replicas' credentials (with REDIS_URL they are in the URL). */
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  /** The sentinels' own `requirepass`, when they have one. */
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  /** With sentinels: TLS to the sentinels and to the servers they name (with REDIS_URL: rediss://). */
  REDIS_SENTINEL_TLS: envBool.default(false),
  /** Unset: 1 with REDIS_SENTINELS, 0 with a single REDIS_URL (replicasToAck). */
  REDIS_MIN_REPLICAS_ACK: z.coerce.number().int().min(0).max(16).optional(),
  REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).max(60000).default(1000),
};

/** The Redis settings as parsed: what checkRedisHa checks and redis.ts's redisTargetOf reads. */
export interface RedisHaSettings {
  REDIS_URL?: string;
  REDIS_SENTINELS?: SentinelAddress[];
  REDIS_SENTINEL_NAME?: string;
  REDIS_USERNAME?: string;
  REDIS_PASSWORD?: string;
  REDIS_SENTINEL_PASSWORD?: string;
  REDIS_SENTINEL_TLS?: boolean;
}

/** Sentinel and a plain URL are two ways to name one Redis: exactly one may be given, with what it needs. */
export function checkRedisHa(c: RedisHaSettings, ctx: z.RefinementCtx): void {
  if (c.REDIS_SENTINELS && c.REDIS_URL) {
    ctx.addIssue({ code: "custom", path: ["REDIS_SENTINELS"], message: "set REDIS_URL or REDIS_SENTINELS, not both (with sentinels, the primary's address comes from them)" });
  }
  if (c.REDIS_SENTINELS && !c.REDIS_SENTINEL_NAME) {
    ctx.addIssue({ code: "custom", path: ["REDIS_SENTINEL_NAME"], message: "is required with REDIS_SENTINELS: the master name the sentinels monitor" });
  }
  if (!c.REDIS_SENTINELS && c.REDIS_SENTINEL_NAME) {
    ctx.addIssue({ code: "custom", path: ["REDIS_SENTINEL_NAME"], message: "has no effect without REDIS_SENTINELS" });
  }
  // One way to say each thing: a URL carries its own credentials and scheme.
  for (const field of ["REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD", "REDIS_SENTINEL_TLS"] as const) {
    if (!c.REDIS_SENTINELS && c[field]) {
      ctx.addIssue({ code: "custom", path: [field], message: "is for REDIS_SENTINELS; with REDIS_URL put credentials and TLS in the URL (rediss://user:password@host:6379)" });
    }
  }
}

/**
 * Replicas that must hold a job before the API acknowledges it. Unset, it is 1 under Sentinel: a failover
 * promotes a replica, so a job only on the old primary would be lost with it, against what 202 promises.
 * A single Redis has no replica to wait for (0). An explicit value wins either way.
 */
export function replicasToAck(c: Pick<RedisHaSettings, "REDIS_SENTINELS"> & { REDIS_MIN_REPLICAS_ACK?: number }): number {
  return c.REDIS_MIN_REPLICAS_ACK ?? (c.REDIS_SENTINELS ? 1 : 0);
}
