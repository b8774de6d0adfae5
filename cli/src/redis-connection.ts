import { Redis } from "ioredis";
import type { Config } from "@videosdgx/shared";
import { causeOf } from "./hub/hub-client.js";

/** The platform's Redis: REDIS_URL, or the one `npm start` runs on OWN_REDIS_PORT. */
export const platformRedisUrl = (config: Config) => config.REDIS_URL ?? `redis://127.0.0.1:${config.OWN_REDIS_PORT}`;

/** One connection attempt, no retries: a CLI says at once that Redis is unreachable, and why. */
export async function connectRedis(url: string): Promise<{ redis: Redis } | { error: string }> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 3000 });
  let firstError = "";
  redis.on("error", (err: Error) => (firstError ||= err.message));
  try {
    await redis.connect();
    return { redis };
  } catch (err) {
    redis.disconnect();
    return { error: firstError || causeOf(err) };
  }
}
