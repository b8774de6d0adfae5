import { randomUUID } from "node:crypto";
import type { DefaultJobOptions } from "bullmq";
import type { Config } from "./config.js";
import { ModelNameSchema } from "./models/manifest.js";

/**
 * Job ids carry their model (`tiny-<uuid>`) so any process can find a job's queue from its id alone.
 * BullMQ forbids ':' and all-digit ids; this shape has neither.
 */
export const newJobId = (model: string): string => `${model}-${randomUUID()}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The model of an id of newJobId's shape; undefined for anything else, which cannot name a job. */
export function modelOfJobId(id: string): string | undefined {
  const dash = id.indexOf("-");
  if (dash < 0) return undefined;
  const model = id.slice(0, dash);
  return ModelNameSchema.safeParse(model).success && UUID.test(id.slice(dash + 1)) ? model : undefined;
}

/** Redis keys of our own, beside BullMQ's, under the same prefix. */
export const redisKeys = (prefix: string) => ({
  /** Set while a cancellation is pending or done; the worker checks it between steps. */
  cancel: (jobId: string) => `${prefix}:cancel:${jobId}`,
  /**
   * Held (SET NX PX, for OUTPUT_SWEEP_SECONDS) by the one process running a model's retention in that
   * interval for an output scope (the bucket, or one host's disk): its jobs past KEEP_*_SECONDS, then
   * their files (named from when it guarded only a bucket's objects).
   */
  outputSweep: (model: string, scope: string) => `${prefix}:output-sweep:${scope}:${model}`,
  /** Sorted set of live worker ids scored by heartbeat expiry (ms). */
  workers: `${prefix}:workers`,
  /** Hash describing one worker: model, host, pid, loaded state. */
  worker: (workerId: string) => `${prefix}:worker:${workerId}`,
  /** One memory ledger per host (shared/lua/ledger-*.lua keep it consistent). */
  memory: (host: string) => ({
    reservations: `${prefix}:mem:${host}:reservations`,
    leases: `${prefix}:mem:${host}:leases`,
    tokens: `${prefix}:mem:${host}:tokens`,
    fence: `${prefix}:mem:${host}:fence`,
    highWater: `${prefix}:mem:${host}:high-water`,
    /** Measured footprint per model on this host (bytes the process grew by when loading it). */
    measured: `${prefix}:mem:${host}:measured`,
    /** Pub/sub: "freed" when memory is released, "evict:<workerId>" to ask an idle worker to unload. */
    events: `${prefix}:mem:${host}:events`,
  }),
  /** GPU slots of one host (shared/lua/gpu-grant.lua) and the workers waiting for them. */
  gpu: (host: string) => ({
    holders: `${prefix}:gpu:${host}:holders`,
    waiters: `${prefix}:gpu:${host}:waiters`,
    /** Per model, GPU time of the jobs that passed its waiting jobs (shared/lua/gpu-release.lua). */
    passes: `${prefix}:gpu:${host}:passes`,
    highWater: `${prefix}:gpu:${host}:high-water`,
    /** Pub/sub: "changed" whenever a slot is released or a waiter arrives. */
    events: `${prefix}:gpu:${host}:events`,
  }),
  /** The job an Idempotency-Key created, with the fingerprint of its request (key hashed: any bytes are safe). */
  idempotency: (keyHash: string) => `${prefix}:idempotency:${keyHash}`,
  /** Pub/sub: "load" or "unload" requests for every worker of one model. */
  modelControl: (model: string) => `${prefix}:model:${model}:control`,
  /** A job's webhook messages: attempts log, messages not yet finished (ordered), and a 410 stop. */
  webhook: (jobId: string) => ({
    log: `${prefix}:webhook:${jobId}:log`,
    pending: `${prefix}:webhook:${jobId}:pending`,
    gone: `${prefix}:webhook:${jobId}:gone`,
  }),
  /**
   * Webhook delivery totals of the whole platform (hash, never expires): `<outcome>` counts each attempt's
   * (or skip's) outcome, `attempt_ms` adds up attempt durations. Read by the API's /metrics.
   */
  webhookTotals: `${prefix}:webhook-totals`,
  /** Where the webhook dispatcher is in a model's BullMQ events stream. */
  webhookCursor: (model: string) => `${prefix}:webhook-cursor:${model}`,
  /** Submissions admitted to a queue but not added yet, scored by expiry (ms): counted against the cap. */
  admissions: (queue: string) => `${prefix}:admissions:${queue}`,
  /** Token bucket of one API key's submissions (shared/lua/admit-job.lua). */
  rateLimit: (principal: string) => `${prefix}:ratelimit:${principal}`,
  /** One API key's record (hash): name, scopes, SHA-256 of the key, webhook secret, times. */
  apiKey: (keyId: string) => `${prefix}:apikey:${keyId}`,
  /** Every key id, revoked ones included, scored by creation time (ms): for listing. */
  apiKeys: `${prefix}:apikeys`,
  /** Ids of the keys not revoked: empty means no key is configured (anonymous access on loopback). */
  activeApiKeys: `${prefix}:apikeys:active`,
  /** Pub/sub: a key id whenever that key is created or revoked, so API processes drop cached lookups. */
  apiKeyEvents: `${prefix}:apikeys:events`,
  /** Jobs submitted with one key, scored by submission time (ms): how a key lists its own jobs. */
  ownerJobs: (keyId: string) => `${prefix}:owner:${keyId}:jobs`,
});
export type RedisKeys = ReturnType<typeof redisKeys>;

/** How long anything kept beside a job (webhook log and chain, owner index) lives: as long as the job may. */
export const jobRetentionSeconds = (config: Config): number => Math.max(config.KEEP_COMPLETED_SECONDS, config.KEEP_FAILED_SECONDS, 1);

export function defaultJobOptions(config: Config): DefaultJobOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: "exponential", delay: config.JOB_BACKOFF_MS },
    removeOnComplete: { age: config.KEEP_COMPLETED_SECONDS, count: config.KEEP_COMPLETED_JOBS },
    removeOnFail: { age: config.KEEP_FAILED_SECONDS, count: config.KEEP_FAILED_JOBS },
  };
}
