import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Config } from "@videosdgx/shared";
import { causeOf } from "../hub/hub-client.js";
import { connectRedis, platformRedisUrl } from "../redis-connection.js";
import { fail, ok, warn, type DoctorCheck } from "./check.js";

const run = promisify(execFile);
const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim();

/**
 * Redis reachable, with AOF on and `noeviction` (an evicted key is a lost job). With REDIS_URL unset,
 * `npm start` runs its own: not running yet is fine when redis-server is installed.
 */
export async function checkRedis(config: Config): Promise<DoctorCheck> {
  const url = platformRedisUrl(config);
  const conn = await connectRedis(url);
  if ("error" in conn) {
    if (config.REDIS_URL) return fail("redis", `Redis at REDIS_URL ${url} is unreachable: ${conn.error}`, "start that Redis, or fix REDIS_URL");
    const installed = await run("redis-server", ["--version"], { timeout: 5000 }).then((r) => r.stdout.trim(), () => undefined);
    return installed
      ? warn("redis", `npm start's own Redis (port OWN_REDIS_PORT ${config.OWN_REDIS_PORT}) is not running; ${installed} is installed`, "npm start starts it")
      : fail("redis", `no Redis: REDIS_URL is unset, nothing answers on OWN_REDIS_PORT ${config.OWN_REDIS_PORT} and redis-server is not installed`, "apt-get install -y redis-server, or set REDIS_URL");
  }
  try {
    const info = await conn.redis.info();
    const version = field(info, "redis_version");
    const aof = field(info, "aof_enabled") === "1";
    const policy = field(info, "maxmemory_policy");
    const problems = [...(aof ? [] : ["AOF is off (appendonly no)"]), ...(policy === "noeviction" ? [] : [`maxmemory-policy is ${policy}`])];
    return problems.length === 0
      ? ok("redis", `Redis ${version} at ${url}, AOF on, noeviction`)
      : fail("redis", `Redis ${version} at ${url}: ${problems.join(", ")}; jobs can be lost`, "set appendonly yes and maxmemory-policy noeviction in its configuration");
  } finally {
    conn.redis.disconnect();
  }
}

/** `GET /readyz`: the API answers, and its workers are alive and able to take jobs. */
export async function checkApi(config: Config): Promise<DoctorCheck> {
  const host = config.HOST === "0.0.0.0" || config.HOST === "::" ? "127.0.0.1" : config.HOST;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${config.PORT}/readyz`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    return warn("api", `no API answers at ${url} (${causeOf(err)})`, "npm start starts the API and one worker per installed model");
  }
  const body = (await res.json().catch(() => ({}))) as { workers?: number; models_with_workers?: string[]; reasons?: string[] };
  if (res.status === 200) return ok("api", `API ready at ${url}: ${body.workers ?? 0} worker(s) alive for ${(body.models_with_workers ?? []).join(", ") || "no model"}`);
  return fail("api", `the API at ${url} is not ready (${res.status}): ${(body.reasons ?? []).join("; ") || "no reason given"}`, "fix what it names; npm start restarts workers that crash");
}
