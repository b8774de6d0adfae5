import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { CliExitCode, PARTIAL_DIR, describeRedisTarget, platformRedisTarget, readLiveWorkers, redisKeys, type Config } from "@videosdgx/shared";
import { CliError, usageError } from "../cli-error.js";
import { connectRedis } from "../redis-connection.js";
import { checkpointDir, exists } from "./folder.js";
import { checkModelName } from "./model-name.js";

/** Live workers serving the model, in words; refuses when Redis cannot say (unless forced). */
async function refuseWhileServed(config: Config, name: string, force: boolean): Promise<string | undefined> {
  const target = platformRedisTarget(config);
  const url = describeRedisTarget(target);
  const conn = await connectRedis(target);
  if ("error" in conn) {
    if (force) return `Redis at ${url} is unreachable (${conn.error}); removed anyway (--force)`;
    throw new CliError(
      "redis_unreachable",
      `cannot tell whether a worker has ${name} loaded: Redis at ${url} is unreachable (${conn.error}); start the platform (npm start) or set REDIS_URL / REDIS_SENTINELS, or pass --force if no worker runs`,
      CliExitCode.inUse,
    );
  }
  try {
    const workers = (await readLiveWorkers(conn.redis, redisKeys(config.QUEUE_PREFIX))).filter((w) => w.model === name);
    if (workers.length > 0) {
      const who = workers.map((w) => `${w.id} (pid ${w.pid} on ${w.host}, ${w.loaded ? "model loaded" : "would load it for its next job"})`).join(", ");
      throw new CliError("model_in_use", `${name} is in use by ${workers.length} live worker(s): ${who}; stop them first (npm start serves every installed model)`, CliExitCode.inUse);
    }
    return undefined;
  } finally {
    conn.redis.disconnect();
  }
}

/**
 * `models rm <name> [--checkpoint] [--force]`: the folder is renamed out of MODELS_DIR in one step, then
 * deleted, so no one sees it half removed. A pulled checkpoint no worker reads is removed without asking Redis.
 */
export async function removeModel(config: Config, name: string, opts: { checkpoint: boolean; force: boolean }) {
  await checkModelName(config.MODELS_DIR, name);
  const dir = opts.checkpoint ? checkpointDir(config.MODELS_DIR, name) : path.join(config.MODELS_DIR, name);
  if (!(await exists(dir))) throw usageError(`nothing to remove: ${dir} does not exist`);
  const note = opts.checkpoint ? undefined : await refuseWhileServed(config, name, opts.force);
  const trash = path.join(config.MODELS_DIR, PARTIAL_DIR, `.removing-${name}-${process.pid}`);
  await mkdir(path.dirname(trash), { recursive: true });
  await rename(dir, trash);
  await rm(trash, { recursive: true, force: true });
  return { model: name, removed: dir, ...(note ? { note } : {}) };
}
