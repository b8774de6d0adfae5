import type { ApiKeyStore, Config, InputStore, Logger, S3Outputs, SubmissionGate, WebhookOutbox } from "@videosdgx/shared";
import type { Authenticator } from "./http/auth.js";
import type { IdempotencyKeys } from "./services/idempotency.js";
import type { JobStore } from "./services/job-store.js";
import type { Metrics } from "./services/metrics.js";
import type { ModelRegistry } from "./services/model-registry.js";
import type { QueueEventsHub } from "./services/queue-events-hub.js";
import type { WebhookSubscriptions } from "./services/webhook-subscriptions.js";
import type { RequestSchemas } from "./http/request-schemas.js";

/** What route handlers need, built once in main.ts and passed down: no module-level singletons. */
export interface AppContext {
  config: Config;
  log: Logger;
  models: ModelRegistry;
  jobs: JobStore;
  idempotency: IdempotencyKeys;
  metrics: Metrics;
  events: QueueEventsHub;
  webhooks: WebhookSubscriptions;
  outbox: WebhookOutbox;
  schemas: RequestSchemas;
  auth: Authenticator;
  apiKeys: ApiKeyStore;
  admission: SubmissionGate;
  /** Jobs' input files (image-to-video images), kept outside Redis. */
  inputs: InputStore;
  /** The bucket finished videos are in (OUTPUT_STORE=s3); undefined: they are files in OUTPUTS_DIR. */
  outputs: S3Outputs | undefined;
  ping(): Promise<void>;
}
