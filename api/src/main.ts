import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { ServiceUnavailableError, WebhookOutbox, createLogger, createRedis, listModelNames, loadConfigOrExit } from "@videosdgx/shared";
import { DASHBOARD_PATH, DOCS_PATH, createApp } from "./app.js";
import type { AppContext } from "./context.js";
import { requestSchemas } from "./http/request-schemas.js";
import { IdempotencyKeys } from "./services/idempotency.js";
import { JobStore } from "./services/job-store.js";
import { Metrics } from "./services/metrics.js";
import { QueueEventsHub } from "./services/queue-events-hub.js";
import { ModelRegistry } from "./services/model-registry.js";
import { WebhookSubscriptions } from "./services/webhook-subscriptions.js";

const config = loadConfigOrExit("api");
const log = createLogger("api", config.LOG_LEVEL);
if (!config.REDIS_URL) {
  process.stderr.write("api: REDIS_URL is required (npm start sets it for the API it starts)\n");
  process.exit(2);
}
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

const redis = createRedis(config.REDIS_URL, "producer", "vdgx-api");
const outbox = new WebhookOutbox(config, redis);
const jobs = new JobStore(config, redis, outbox);
const models = new ModelRegistry(config, redis);
const modelNames = await listModelNames(config.MODELS_DIR);
const events = new QueueEventsHub(config, redis);
events.watch(modelNames, config.REDIS_URL);
const metrics = new Metrics(jobs, () => models.names());
metrics.watch(events);

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
  async ping() {
    if (redis.status !== "ready") throw new ServiceUnavailableError(`Redis connection is ${redis.status}`);
    await redis.ping();
  },
};

const server: Server = createApp(ctx, modelNames, version).listen(config.PORT, config.HOST, () => {
  const base = `http://${config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST}:${config.PORT}`;
  log.info("api listening", { url: base, dashboard: `${base}${DASHBOARD_PATH}`, docs: `${base}${DOCS_PATH}` });
});
server.on("error", (err) => {
  process.stderr.write(`api: cannot listen on ${config.HOST}:${config.PORT}: ${err.message}\n`);
  process.exit(2);
});

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info("stopping", { signal });
  setTimeout(() => process.exit(1), config.SHUTDOWN_GRACE_MS).unref();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Event streams never end by themselves: cut them once in-flight requests had a moment to finish.
  setTimeout(() => server.closeAllConnections(), 1000).unref();
  await closed;
  await Promise.allSettled([events.close(), jobs.close(), outbox.close()]);
  redis.disconnect();
  process.exit(0);
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
