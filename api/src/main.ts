import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import {
  ApiKeyStore,
  ExitCode,
  S3Outputs,
  ServiceUnavailableError,
  SubmissionGate,
  WebhookOutbox,
  createLogger,
  createRedis,
  describeRedisTarget,
  isLoopbackHost,
  listModelNames,
  loadConfigOrExit,
  openInputStore,
  redisKeys,
  redisTargetOf,
  stopOnSignals,
} from "@videosdgx/shared";
import { DASHBOARD_PATH, DOCS_PATH, createApp } from "./app.js";
import type { AppContext } from "./context.js";
import { Authenticator } from "./http/auth.js";
import { requestSchemas } from "./http/request-schemas.js";
import { IdempotencyKeys } from "./services/idempotency.js";
import { JobStore } from "./services/job-store.js";
import { KeyLookups } from "./services/key-lookups.js";
import { Metrics } from "./services/metrics.js";
import { QueueEventsHub } from "./services/queue-events-hub.js";
import { ReplicaAck } from "./services/replica-ack.js";
import { ModelRegistry } from "./services/model-registry.js";
import { WebhookSubscriptions } from "./services/webhook-subscriptions.js";

const config = loadConfigOrExit("api");
const log = createLogger("api", config.LOG_LEVEL);
const target = redisTargetOf(config);
if (!target) {
  process.stderr.write("api: REDIS_URL or REDIS_SENTINELS is required (npm start sets REDIS_URL for the API it starts)\n");
  process.exit(ExitCode.config);
}
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

const redis = createRedis(target, "producer", "vdgx-api");
log.info("redis", { at: describeRedisTarget(target), replicas_to_acknowledge: config.REDIS_MIN_REPLICAS_ACK });
const outbox = new WebhookOutbox(config, redis);
// WAIT blocks the connection it is sent on: submissions get their own so that reads never queue behind it.
const writer = config.REDIS_MIN_REPLICAS_ACK > 0 ? createRedis(target, "producer", "vdgx-api-submit") : redis;
const jobs = new JobStore(config, redis, outbox, writer, new ReplicaAck(writer, config.REDIS_MIN_REPLICAS_ACK, config.REDIS_WAIT_TIMEOUT_MS));
const models = new ModelRegistry(config, redis);
const modelNames = await listModelNames(config.MODELS_DIR);
const events = new QueueEventsHub(config, redis, target);
const metrics = new Metrics({
  store: jobs,
  outbox,
  redis,
  keys: redisKeys(config.QUEUE_PREFIX),
  models: () => models.names(),
  liveWorkers: () => models.liveWorkers(),
});
metrics.watch(events);

const apiKeys = new ApiKeyStore(redis, config.QUEUE_PREFIX);
const keyLookups = new KeyLookups(apiKeys, config.API_KEY_CACHE_SECONDS * 1000, log);
// Its own connection (a subscribed one can do nothing else), retrying forever like a worker's.
const keyEvents = createRedis(target, "worker", "vdgx-api-key-events");
keyLookups.listen(keyEvents, redisKeys(config.QUEUE_PREFIX).apiKeyEvents).catch((err: unknown) => {
  log.error("cannot subscribe to API key changes; revocations reach this process after API_KEY_CACHE_SECONDS", { error: String(err) });
});
const loopback = isLoopbackHost(config.HOST);

/** Requests without a key are admin when no key exists: only a loopback address may serve them. */
async function refuseOpenAccess(): Promise<void> {
  if (loopback) return;
  if (redis.status !== "ready") {
    log.info("waiting for Redis to check the API keys", { host: config.HOST });
    await once(redis, "ready");
  }
  if ((await apiKeys.activeCount()) > 0) return;
  process.stderr.write(
    `api: refusing to start: HOST=${config.HOST} is not a loopback address and no API key exists, so anyone who can reach ` +
      `it would be admin. Create a key first (npm run keys -- create --scope admin, with the same REDIS_URL and ` +
      `QUEUE_PREFIX), or set HOST=127.0.0.1.\n`,
  );
  process.exit(ExitCode.config);
}
await refuseOpenAccess();

const outputs = config.OUTPUT_STORE === "s3" ? new S3Outputs(config, `api-${config.HOST_ID}-${process.pid}`) : undefined;
const ctx: AppContext = {
  config,
  log,
  jobs,
  idempotency: new IdempotencyKeys(config, redis),
  models,
  metrics,
  events,
  webhooks: new WebhookSubscriptions(config),
  outbox,
  schemas: requestSchemas(config),
  auth: new Authenticator(keyLookups, loopback),
  apiKeys,
  admission: new SubmissionGate(redis, config.QUEUE_PREFIX, {
    maxQueuedPerModel: config.MAX_QUEUED_PER_MODEL,
    perMinute: config.RATE_LIMIT_PER_MINUTE,
    burst: config.RATE_LIMIT_BURST,
  }),
  outputs,
  inputs: openInputStore(config, outputs),
  async ping() {
    if (redis.status !== "ready") throw new ServiceUnavailableError(`Redis connection is ${redis.status}`);
    await redis.ping();
  },
};

const server: Server = createServer(createApp(ctx, version));
// The models installed now are followed at once, and again on each reconnect (one whose start failed is retried).
const followInstalled = () => {
  for (const name of modelNames) void events.follow(name);
};
followInstalled();
redis.on("ready", followInstalled);
server.once("error", (err: NodeJS.ErrnoException) => {
  const reason = err.code === "EADDRINUSE" ? `port ${config.PORT} is already in use by another process (set PORT to a free one)` : err.message;
  process.stderr.write(`api: cannot listen on ${config.HOST}:${config.PORT}: ${reason}\n`);
  process.exit(ExitCode.config);
});
// Express 5's app.listen() calls its callback on errors too; "listening" is only said once it is true.
server.listen(config.PORT, config.HOST, () => {
  const base = `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${config.PORT}`;
  log.info("api listening", { url: base, dashboard: `${base}${DASHBOARD_PATH}`, docs: `${base}${DOCS_PATH}` });
});

stopOnSignals(log, config.SHUTDOWN_GRACE_MS, async () => {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Event streams never end by themselves: cut them once in-flight requests had a moment to finish.
  setTimeout(() => server.closeAllConnections(), 1000).unref();
  await closed;
  await Promise.allSettled([events.close(), jobs.close(), outbox.close()]);
  keyEvents.disconnect();
  writer.disconnect();
  redis.disconnect();
});
