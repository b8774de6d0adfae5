import type { Redis } from "ioredis";
import { createRedis, type RedisTarget } from "@videosdgx/shared";
import { causeOf } from "./hub/hub-client.js";

/** One connection attempt, no retries: a CLI says at once that Redis is unreachable, and why. */
export async function connectRedis(target: RedisTarget): Promise<{ redis: Redis } | { error: string }> {
  const redis = createRedis(target, "probe", "vdgx-cli");
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
