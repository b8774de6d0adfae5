import { Redis, type RedisOptions } from "ioredis";

/**
 * Workers block on Redis and must retry forever (BullMQ requires maxRetriesPerRequest null);
 * producers fail fast so an HTTP request answers 503 instead of hanging while Redis is away.
 */
export function createRedis(url: string, role: "worker" | "producer", name?: string): Redis {
  const options: RedisOptions =
    role === "worker"
      ? { maxRetriesPerRequest: null, connectionName: name }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectionName: name };
  const redis = new Redis(url, { ...options, retryStrategy: (n) => Math.min(n * 200, 2000) });
  // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
  redis.on("error", () => undefined);
  return redis;
}

/** True for the errors ioredis raises while Redis is unreachable (mapped to 503, not 500). */
export function isRedisUnavailable(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  return /enableOfflineQueue|Connection is closed|ECONNREFUSED|ECONNRESET|max retries per request|LOADING/i.test(message);
}
