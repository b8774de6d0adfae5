import { execFile } from "node:child_process";
import { hostname } from "node:os";
import { promisify } from "node:util";
import { describeRedisTarget, openOutputStore, platformRedisTarget, type Config, type EnvironmentProblem } from "@videosdgx/shared";
import { causeOf } from "../hub/hub-client.js";
import { connectRedis } from "../redis-connection.js";
import { fail, ok, warn, type DoctorCheck } from "./check.js";

const run = promisify(execFile);
const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim();

/**
 * Redis reachable, with AOF on and `noeviction` (an evicted key is a lost job). With REDIS_URL unset,
 * `npm start` runs its own: not running yet is fine when redis-server is installed.
 */
export async function checkRedis(config: Config): Promise<DoctorCheck> {
  const target = platformRedisTarget(config);
  const url = describeRedisTarget(target);
  const conn = await connectRedis(target);
  if ("error" in conn) {
    if (config.REDIS_SENTINELS) return fail("redis", `Redis through ${url} is unreachable: ${conn.error}`, "start those sentinels and their primary, or fix REDIS_SENTINELS / REDIS_SENTINEL_NAME");
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

/** `GET /readyz` of the API the CLI talks to (VIDEOSDGX_URL, default this machine's): it answers, and its workers are alive and able to take jobs. */
export async function checkApi(config: Config): Promise<DoctorCheck> {
  const url = `${config.VIDEOSDGX_URL}/readyz`;
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

/** What to do about a store that answers and says no (one that is away gets the fallback: start it). */
const STORE_FIXES: Partial<Record<EnvironmentProblem["code"], string>> = {
  store_missing_bucket: "create the bucket (aws s3 mb, or the store's console) or set S3_BUCKET to one that exists; jobs wait queued until then",
  store_refused: "check S3_BUCKET, S3_REGION and the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the instance's role)",
};

/**
 * OUTPUT_STORE=s3: the bucket takes a write and a delete now, as each worker checks before a job (a store
 * that is away holds jobs queued). With files in OUTPUTS_DIR the disk check covers it.
 */
export async function checkOutputStore(config: Config): Promise<DoctorCheck> {
  if (config.OUTPUT_STORE === "fs") return ok("output-store", `videos are files in OUTPUTS_DIR ${config.OUTPUTS_DIR}`);
  const where = `bucket ${config.S3_BUCKET}${config.S3_ENDPOINT ? ` at ${config.S3_ENDPOINT}` : ""}`;
  const problem = await openOutputStore(config, `doctor-${hostname()}-${process.pid}`).check();
  if (!problem) return ok("output-store", `S3 ${where} takes writes`);
  return fail("output-store", `${problem.message} (${problem.code})`, STORE_FIXES[problem.code] ?? "start the store or fix S3_ENDPOINT; jobs wait queued until it answers");
}
