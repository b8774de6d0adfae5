import { ApiKeyStore, ExitCode, JobReader, WebhookOutbox, createLogger, createRedis, loadConfigOrExit, redisTargetOf, stopOnSignals } from "@videosdgx/shared";
import { createDeliveryWorker } from "./delivery-worker.js";
import { WebhookDispatcher } from "./dispatcher.js";

/**
 * The webhook process: `node webhooks/dist/main.js`. It follows job events into the outbox
 * and delivers it, apart from the model workers (and without ONNX Runtime), so a slow or dead receiver never slows a generation.
 */
const config = loadConfigOrExit("webhooks");
const log = createLogger("webhooks", config.LOG_LEVEL);
const target = redisTargetOf(config);
if (!target) {
  process.stderr.write("webhooks: REDIS_URL or REDIS_SENTINELS is required (npm start sets REDIS_URL for the processes it starts)\n");
  process.exit(ExitCode.config);
}

const redis = createRedis(target, "worker", "vdgx-webhooks");
const outbox = new WebhookOutbox(config, redis);
const reader = new JobReader(config, redis);
const dispatcher = new WebhookDispatcher(config, redis, createRedis(target, "worker", "vdgx-webhooks-events"), reader, outbox, log);
const apiKeys = new ApiKeyStore(redis, config.QUEUE_PREFIX);
// A job submitted with an API key is signed with that key's secret (shown once at its creation).
const secretsFor = async (owner: string | undefined) => {
  const own = owner === undefined ? undefined : await apiKeys.webhookSecret(owner);
  return own ? [own] : config.WEBHOOK_SECRET;
};
const worker = createDeliveryWorker(config, createRedis(target, "worker", "vdgx-webhooks-delivery"), redis, outbox, secretsFor, log);
dispatcher.start();
log.info("webhooks ready", { signing: config.WEBHOOK_SECRET.length > 0, allow_hosts: config.WEBHOOK_ALLOW_HOSTS });

stopOnSignals(log, config.SHUTDOWN_GRACE_MS, async () => {
  // A delivery in flight finishes (bounded by WEBHOOK_TIMEOUT_MS); undelivered messages stay queued.
  await Promise.allSettled([dispatcher.stop(), worker.close()]);
  await Promise.allSettled([outbox.close(), reader.close()]);
  redis.disconnect();
});
