import path from "node:path";
import {
  createLogger,
  inspectModel,
  listModelNames,
  loadConfigOrExit,
  startRedisServer,
  type Config,
  type RedisServer,
} from "@videosdgx/shared";
import { ensureBuiltinModels } from "@videosdgx/workers/builtin";
import { API_MAIN, WEBHOOKS_MAIN, WORKER_MAIN } from "./entry-points.js";
import { Supervisor } from "./supervisor.js";

/**
 * `npm start`: Redis (REDIS_URL or our own redis-server with AOF), the built-in tiny model, the API and
 * one worker per installed model, all supervised; Ctrl-C or SIGTERM stops them in order, Redis last.
 */
const config = loadConfigOrExit("start");
const log = createLogger("start", config.LOG_LEVEL);

async function modelsToServe(c: Config): Promise<string[]> {
  const names = c.WORKER_MODELS.length > 0 ? c.WORKER_MODELS : await listModelNames(c.MODELS_DIR);
  const served: string[] = [];
  for (const name of names) {
    const state = await inspectModel(c.MODELS_DIR, name);
    if (state.installed) served.push(name);
    else log.info("no worker for model", { model: name, reason: state.reason });
  }
  return served;
}

await ensureBuiltinModels(config.MODELS_DIR, (model, dir) => log.info("generating a built-in model", { model, dir }));
let ownRedis: RedisServer | undefined;
let redisUrl = config.REDIS_URL;
if (!redisUrl) {
  ownRedis = await startRedisServer({
    port: config.OWN_REDIS_PORT,
    dataDir: path.join(config.DATA_DIR, "redis"),
    appendfsync: config.REDIS_APPENDFSYNC,
  });
  redisUrl = ownRedis.url;
  log.info("redis started", { url: redisUrl, data_dir: path.join(config.DATA_DIR, "redis") });
}

const env = { ...process.env, REDIS_URL: redisUrl, DATA_DIR: config.DATA_DIR, MODELS_DIR: config.MODELS_DIR, OUTPUTS_DIR: config.OUTPUTS_DIR };
const supervisor = new Supervisor(log);
supervisor.start({ name: "api", command: process.execPath, args: [API_MAIN], env });
supervisor.start({ name: "webhooks", command: process.execPath, args: [WEBHOOKS_MAIN], env });
const models = await modelsToServe(config);
for (const model of models) {
  supervisor.start({ name: `worker-${model}`, command: process.execPath, args: [WORKER_MAIN, "--model", model], env });
}

const base = `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${config.PORT}`;
process.stdout.write(
  `\nVideosDGX is starting (workers: ${models.join(", ") || "none"})\n` +
    `  API        ${base}/v1/models\n  Dashboard  ${base}/admin/queues\n  Docs       ${base}/docs\n` +
    `  Metrics    ${base}/metrics\nCtrl-C stops everything.\n\n`,
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("stopping", { signal });
  await supervisor.stopAll(config.SHUTDOWN_GRACE_MS + 5000);
  if (ownRedis) {
    ownRedis.process.kill("SIGTERM");
    await ownRedis.exited;
  }
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
ownRedis?.exited.then((code) => {
  if (stopping) return;
  log.error("redis-server exited; stopping everything (jobs are kept in its AOF)", { code });
  void stop("redis exit");
});
