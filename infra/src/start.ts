import { mkdir } from "node:fs/promises";
import path from "node:path";
import {
  ExitCode,
  PortInUseError,
  createLogger,
  inspectModel,
  listModelNames,
  loadConfigOrExit,
  type Config,
} from "@videosdgx/shared";
import { ensureBuiltinModels } from "@videosdgx/workers/builtin";
import { API_MAIN, WEBHOOKS_MAIN, WORKER_MAIN } from "./entry-points.js";
import { lockDataDir } from "./data-dir-lock.js";
import { OwnRedis, shutDownLeftoverRedis } from "./own-redis.js";
import { Supervisor } from "./supervisor.js";

/**
 * `npm start`: Redis (REDIS_URL or our own redis-server with AOF), the built-in models, and what ROLES
 * asks for (the API, the webhook sender, one worker per installed model), all supervised; Ctrl-C or SIGTERM stops them in order, Redis last.
 * Its own Redis's data dir is locked (one launcher per dir); a Redis left running by a launcher that was
 * killed is shut down cleanly first; a Redis that dies is restarted.
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

/** Stops the API and workers (each finishes its own work), then Redis, and exits with `code`. */
let stopping = false;
async function stop(reason: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("stopping", { reason });
  await supervisor.stopAll(config.SHUTDOWN_GRACE_MS + 5000);
  await ownRedis?.stop();
  process.exit(code);
}

/** A start-up failure that restarting cannot fix (a port or the data dir taken): said plainly, exit 2. */
function refuseToStart(message: string): never {
  process.stderr.write(`start: ${message}\n`);
  process.exit(ExitCode.config);
}

const supervisor = new Supervisor(log, (child) => {
  log.error("an essential process refused to start; stopping everything", { child });
  void stop(`${child} refused to start`, ExitCode.config);
});

let ownRedis: OwnRedis | undefined;
// Our own redis-server only when no Redis is configured (a URL or sentinels).
let redisUrl = config.REDIS_URL;
if (!redisUrl && !config.REDIS_SENTINELS) {
  const dataDir = path.join(config.DATA_DIR, "redis");
  await mkdir(dataDir, { recursive: true });
  await lockDataDir(dataDir).catch((err: Error) => refuseToStart(err.message));
  await shutDownLeftoverRedis(dataDir, log).catch((err: Error) => refuseToStart(err.message));
  ownRedis = new OwnRedis(
    {
      server: { port: config.OWN_REDIS_PORT, dataDir, appendfsync: config.REDIS_APPENDFSYNC },
      maxRestarts: config.OWN_REDIS_MAX_RESTARTS,
      restartWindowMs: config.OWN_REDIS_RESTART_WINDOW_SECONDS * 1000,
      onGiveUp: () => void stop("redis-server cannot be kept running", 1),
    },
    log,
  );
  await ownRedis.start().catch((err: Error) =>
    err instanceof PortInUseError ? refuseToStart(`OWN_REDIS_PORT: ${err.message}`) : refuseToStart(`cannot start redis-server: ${err.message}`),
  );
  redisUrl = ownRedis.url;
  log.info("redis started", { url: redisUrl, data_dir: dataDir });
}
await ensureBuiltinModels(config.MODELS_DIR, (model, dir) => log.info("generating a built-in model", { model, dir }));

// Every child names the same host (HOST_ID), so the ledger, the heartbeats and the views agree.
const env = {
  ...process.env,
  REDIS_URL: redisUrl, DATA_DIR: config.DATA_DIR, MODELS_DIR: config.MODELS_DIR, OUTPUTS_DIR: config.OUTPUTS_DIR, HOST_ID: config.HOST_ID,
};
const roles = new Set(config.ROLES);
if (roles.has("api")) supervisor.start({ name: "api", command: process.execPath, args: [API_MAIN], env, essential: true });
if (roles.has("webhooks")) supervisor.start({ name: "webhooks", command: process.execPath, args: [WEBHOOKS_MAIN], env });
const models = roles.has("workers") ? await modelsToServe(config) : [];
for (const model of models) {
  supervisor.start({ name: `worker-${model}`, command: process.execPath, args: [WORKER_MAIN, "--model", model], env });
}

const base = `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${config.PORT}`;
process.stdout.write(
  `\nVideosDGX is starting on host ${config.HOST_ID} (roles: ${config.ROLES.join(", ")}; workers: ${models.join(", ") || "none"})\n` +
    (roles.has("api")
      ? `  Studio     ${base}/\n  API        ${base}/v1/models\n  Dashboard  ${base}/admin/queues\n  Docs       ${base}/docs\n  Metrics    ${base}/metrics\n`
      : `  No API here: this host serves the queues of the Redis at REDIS_URL.\n`) +
    `Ctrl-C stops everything.\n\n`,
);

process.on("SIGINT", () => void stop("SIGINT", 0));
process.on("SIGTERM", () => void stop("SIGTERM", 0));
