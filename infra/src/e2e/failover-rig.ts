import { randomBytes } from "node:crypto";
import { TestSentinelSet } from "@videosdgx/shared/testing";
import { Platform } from "./platform.js";
import { WebhookReceiver } from "./webhook-receiver.js";

/** What the failover tests run on: the platform over a primary, a replica and three sentinels, a tiny worker, the webhook sender and a receiver. */
export interface FailoverRig {
  p: Platform;
  set: TestSentinelSet;
  receiver: WebhookReceiver;
}

// REDIS_MIN_REPLICAS_ACK is left to its default under Sentinel (1): what a deployment gets unless it opts out.
// A WAIT timeout that tolerates this shared machine's load. Short locks and stalled checks: a job whose
// completion a failover lost is run again within the test.
const ENV = {
  REDIS_WAIT_TIMEOUT_MS: "2000",
  LOCK_DURATION_MS: "3000", STALLED_INTERVAL_MS: "1000", MAX_STALLED_COUNT: "10", JOB_ATTEMPTS: "5", JOB_BACKOFF_MS: "200",
  MEMORY_LEASE_MS: "3000", RATE_LIMIT_PER_MINUTE: "0", MAX_QUEUED_PER_MODEL: "0",
  WEBHOOK_SECRET: `whsec_${randomBytes(32).toString("base64")}`, WEBHOOK_ALLOW_HOSTS: "127.0.0.1", WEBHOOK_RETRY_SCHEDULE: "0,1,1,2,2,3",
};

export async function startFailoverRig(): Promise<FailoverRig> {
  let set: TestSentinelSet | undefined;
  const p = await Platform.start({ env: ENV, redis: async (dir) => (set = await TestSentinelSet.start(dir, { downAfterMs: 1000, failoverTimeoutMs: 3000 })) });
  const receiver = await WebhookReceiver.start();
  await p.startWorker("tiny");
  await p.startWebhooks();
  return { p, set: set!, receiver };
}

export async function stopFailoverRig(rig: FailoverRig | undefined): Promise<void> {
  await rig?.receiver.close();
  await rig?.p.stop();
}
