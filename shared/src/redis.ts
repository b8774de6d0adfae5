import { Redis, type RedisOptions } from "ioredis";
import type { RedisHaSettings, SentinelAddress } from "./redis-config.js";

/** The sentinels that know which server is the platform's primary now, and how to talk to them and it. */
export interface SentinelTarget {
  sentinels: SentinelAddress[];
  name: string;
  username?: string;
  password?: string;
  sentinelPassword?: string;
  tls?: boolean;
}

/** Where the platform's Redis is: a URL (credentials and TLS in it), or sentinels. */
export type RedisTarget = string | SentinelTarget;

/** The configured Redis, or undefined when neither REDIS_URL nor REDIS_SENTINELS is set (config checked they are not both). */
export function redisTargetOf(config: RedisHaSettings): RedisTarget | undefined {
  if (!config.REDIS_SENTINELS) return config.REDIS_URL;
  return {
    sentinels: config.REDIS_SENTINELS,
    name: config.REDIS_SENTINEL_NAME!,
    ...(config.REDIS_USERNAME ? { username: config.REDIS_USERNAME } : {}),
    ...(config.REDIS_PASSWORD ? { password: config.REDIS_PASSWORD } : {}),
    ...(config.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: config.REDIS_SENTINEL_PASSWORD } : {}),
    ...(config.REDIS_SENTINEL_TLS ? { tls: true } : {}),
  };
}

/** The Redis a CLI talks to: the configured one, or the one `npm start` runs on OWN_REDIS_PORT. */
export function platformRedisTarget(config: RedisHaSettings & { OWN_REDIS_PORT: number }): RedisTarget {
  return redisTargetOf(config) ?? `redis://127.0.0.1:${config.OWN_REDIS_PORT}`;
}

/** For messages and logs: the URL with its password masked, or `sentinels h:p,h:p (master NAME)`. */
export function describeRedisTarget(target: RedisTarget): string {
  if (typeof target === "string") return maskPassword(target);
  return `sentinels ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(",")} (master ${target.name}${target.tls ? ", TLS" : ""})`;
}

function maskPassword(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//***@"); // not a URL the parser takes: keep nothing of its credentials
  }
}

/**
 * worker: blocks on Redis and retries forever (BullMQ requires maxRetriesPerRequest null).
 * producer: fails fast so an HTTP request answers 503 instead of hanging while Redis is away.
 * probe: one attempt, no retries, for a CLI that says at once why Redis is unreachable.
 */
export type RedisRole = "worker" | "producer" | "probe";

const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  worker: { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 200, 2000) },
  producer: { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: (n) => Math.min(n * 200, 2000) },
  probe: { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, sentinelRetryStrategy: () => null, connectTimeout: 3000 },
};

/**
 * A connection that has just reached a server demoted to replica (a failover while it was connected,
 * or a sentinel answering with a stale address) gets READONLY for writes: reconnecting asks the
 * sentinels again, and the command is sent again to the new primary (2). A refused write has no effect,
 * so sending it again cannot apply it twice.
 */
const reconnectOnReadonly = (err: Error) => (err.message.startsWith("READONLY") ? 2 : false);

/** Every connection of every process is made here, so all of them follow a failover the same way. */
export function createRedis(target: RedisTarget, role: RedisRole, name?: string): Redis {
  const options: RedisOptions = { ...ROLE_OPTIONS[role], connectionName: name, reconnectOnError: reconnectOnReadonly };
  const redis =
    typeof target === "string"
      ? new Redis(target, options)
      : new Redis({
          ...options,
          sentinels: target.sentinels,
          name: target.name,
          role: "master",
          ...(target.username ? { username: target.username } : {}),
          ...(target.password ? { password: target.password } : {}),
          ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
          ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
          // Not ioredis' failoverDetector: its +switch-master disconnect, arriving while the connection is
          // between sentinel retries, ends the connection for good (status "end", every later command
          // "Connection is closed."). A killed primary closes the connection anyway; the sentinels kill the
          // clients of a primary they demote (CLIENT KILL TYPE normal), and one demoted otherwise answers
          // READONLY: each reconnects and asks the sentinels again.
          sentinelRetryStrategy: options.sentinelRetryStrategy ?? ((n) => Math.min(n * 200, 2000)),
        });
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  redis.on("error", () => undefined);
  return redis;
}

/** True for the errors ioredis raises while Redis is unreachable (mapped to 503, not 500). */
export function isRedisUnavailable(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /enableOfflineQueue|Connection is closed|ECONNREFUSED|ECONNRESET|max retries per request|LOADING|READONLY|All sentinels are unreachable/i.test(message);
}
