import { hostname } from "node:os";
import path from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.js";
import { ExitCode } from "./exit-codes.js";
import { envBool as bool } from "./env-fields.js";
import { checkRedisHa, redisHaFields, replicasToAck } from "./redis-config.js";
import { describeRedisTarget } from "./redis.js";
import { isValidWebhookSecret } from "./webhooks/signature.js";

const list = (s: string) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/** What `npm start` runs on a host (ROLES). */
export const ROLES = ["api", "workers", "webhooks"] as const;
export type Role = (typeof ROLES)[number];

/** Several hosts on one Redis, and where finished videos live (issue 14): one block, kept apart. */
const HostsAndStoreSettings = {
  ROLES: z
    .string()
    .default(ROLES.join(","))
    .refine((s) => list(s).length > 0 && list(s).every((r) => (ROLES as readonly string[]).includes(r)), `must be a comma-separated list of ${ROLES.join(", ")}`),
  HOST_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
  OUTPUT_STORE: z.enum(["fs", "s3"]).default("fs"),
  S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  // AWS's rules for bucket names (the path-style subset every S3 server takes).
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name: 3-63 of a-z 0-9 . -").optional(),
  S3_REGION: z.string().min(1).default("us-east-1"),
  S3_FORCE_PATH_STYLE: bool.default(false),
  S3_PRESIGN: bool.default(false),
  S3_PRESIGN_SECONDS: int(1, 7 * 24 * 3600).default(300),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** With temporary credentials (STS, SSO), the token that goes with that key pair. */
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
  OUTPUT_SWEEP_SECONDS: int(1).default(600),
};

/** The API on this machine: its HOST, or loopback when it listens on every address. */
function localApiUrl(host: string, port: number): string {
  const h = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `http://${h.includes(":") ? `[${h}]` : h}:${port}`;
}

/**
 * Every setting of every process, read from the environment once at start-up (`loadConfig`).
 * `.env.example` documents each variable; keep the two in step.
 */
export const ConfigSchema = z
  .object({
    HOST: z.string().min(1).default("127.0.0.1"),
    PORT: int(0, 65535).default(8000),
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
    OWN_REDIS_PORT: int(1, 65535).default(6390),
    REDIS_APPENDFSYNC: z.enum(["always", "everysec"]).default("always"),
    OWN_REDIS_MAX_RESTARTS: int(0, 1000).default(5),
    OWN_REDIS_RESTART_WINDOW_SECONDS: int(1).default(300),
    DATA_DIR: z.string().min(1).default("./data"),
    MODELS_DIR: z.string().min(1).optional(),
    OUTPUTS_DIR: z.string().min(1).optional(),
    OUTPUTS_MIN_FREE_BYTES: int(0).default(256 * 1024 ** 2),
    QUEUE_PREFIX: z.string().regex(/^[a-z][a-z0-9_-]*$/).default("vdgx"),
    WORKER_MODELS: z.string().default(""),
    ORT_EXECUTION_PROVIDERS: z.string().default("cpu"),
    ORT_INTRA_OP_THREADS: int(0, 256).default(0),
    ORT_INTER_OP_THREADS: int(0, 256).default(0),
    ORT_PREPACK_WEIGHTS: bool.default(false),
    ORT_SPIN_WAIT: bool.default(false),
    IDLE_UNLOAD_SECONDS: int(0).default(600),
    RECYCLE_RETAINED_BYTES: int(0).default(256 * 1024 ** 2),
    JOB_ATTEMPTS: int(1, 100).default(3),
    JOB_BACKOFF_MS: int(0).default(5000),
    LOCK_DURATION_MS: int(1000).default(30000),
    STALLED_INTERVAL_MS: int(500).default(15000),
    MAX_STALLED_COUNT: int(0, 100).default(3),
    KEEP_COMPLETED_JOBS: int(0).default(10000),
    KEEP_COMPLETED_SECONDS: int(0).default(7 * 24 * 3600),
    KEEP_FAILED_JOBS: int(0).default(10000),
    KEEP_FAILED_SECONDS: int(0).default(30 * 24 * 3600),
    MAX_BODY_BYTES: int(256, 10 * 1024 * 1024).default(64 * 1024),
    MAX_PROMPT_CHARS: int(1, 100000).default(2000),
    IMAGE_MAX_BYTES: int(1024, 200 * 1024 * 1024).default(10 * 1024 * 1024),
    IMAGE_MAX_PIXELS: int(1, 1024 ** 3).default(4096 * 4096),
    IDEMPOTENCY_TTL_SECONDS: int(1).default(24 * 3600),
    SSE_HEARTBEAT_SECONDS: int(1, 300).default(15),
    API_KEY_CACHE_SECONDS: int(1, 3600).default(10),
    RATE_LIMIT_PER_MINUTE: int(0).default(60),
    RATE_LIMIT_BURST: int(1).default(20),
    MAX_QUEUED_PER_MODEL: int(0).default(1000),
    WEBHOOK_SECRET: z
      .string()
      .refine((s) => list(s).length > 0 && list(s).every(isValidWebhookSecret), "must be one or more whsec_<base64 of 24 to 64 bytes>, space-separated")
      .optional(),
    WEBHOOK_ALLOW_HOSTS: z.string().default(""),
    WEBHOOK_RETRY_SCHEDULE: z
      .string()
      .default("0,5,300,1800,7200,18000,36000,50400,72000,86400")
      .refine((s) => list(s).length > 0 && list(s).every((x) => /^\d+(\.\d+)?$/.test(x)), "must be comma-separated seconds, e.g. 0,5,300"),
    WEBHOOK_TIMEOUT_MS: int(100, 120000).default(15000),
    WEBHOOK_CONCURRENCY: int(1, 1000).default(16),
    X264_PRESET: z
      .enum(["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"])
      .default("veryfast"),
    X264_CRF: int(0, 51).default(18),
    FFMPEG_THREADS: int(0, 64).default(2),
    FFMPEG_PATH: z.string().min(1).optional(),
    PREVIEW_EVERY_STEPS: int(0, 10000).default(0),
    SHUTDOWN_GRACE_MS: int(0).default(30000),
    MEMORY_BUDGET_BYTES: int(1).optional(),
    MEMORY_RESERVE_BYTES: int(0).default(8 * 1024 ** 3),
    MEMORY_LEASE_MS: int(1000).default(15000),
    GPU_CONCURRENCY: int(1, 64).default(1),
    MAX_WAIT_SECONDS: int(1).default(900),
    HF_ENDPOINT: z.url({ protocol: /^https?$/ }).default("https://huggingface.co"),
    HF_TOKEN: z.string().regex(/^\S+$/, "must be one token, no spaces").optional(),
    VIDEOSDGX_URL: z.url({ protocol: /^https?$/ }).optional(),
    VIDEOSDGX_API_KEY: z.string().regex(/^\S+$/, "must be one key, no spaces").optional(),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
    // Redis Sentinel and replica acknowledgement (redis-config.ts).
    ...redisHaFields,
    ...HostsAndStoreSettings,
  })
  .superRefine((c, ctx) => {
    if (c.OUTPUT_STORE === "s3" && !c.S3_BUCKET) ctx.addIssue({ code: "custom", path: ["S3_BUCKET"], message: "is required when OUTPUT_STORE=s3" });
    if (!c.AWS_ACCESS_KEY_ID !== !c.AWS_SECRET_ACCESS_KEY) {
      ctx.addIssue({ code: "custom", path: [c.AWS_ACCESS_KEY_ID ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"], message: "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither" });
    }
    if (c.AWS_SESSION_TOKEN && !c.AWS_ACCESS_KEY_ID) {
      ctx.addIssue({ code: "custom", path: ["AWS_SESSION_TOKEN"], message: "belongs to a temporary key pair: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY with it" });
    }
  })
  .superRefine(checkRedisHa)
  .transform((c) => {
    const dataDir = path.resolve(c.DATA_DIR);
    return {
      ...c,
      DATA_DIR: dataDir,
      HF_ENDPOINT: c.HF_ENDPOINT.replace(/\/+$/, ""),
      VIDEOSDGX_URL: (c.VIDEOSDGX_URL ?? localApiUrl(c.HOST, c.PORT)).replace(/\/+$/, ""),
      MODELS_DIR: path.resolve(c.MODELS_DIR ?? path.join(dataDir, "models")),
      OUTPUTS_DIR: path.resolve(c.OUTPUTS_DIR ?? path.join(dataDir, "outputs")),
      WORKER_MODELS: c.WORKER_MODELS.split(",").map((s) => s.trim()).filter(Boolean),
      ORT_EXECUTION_PROVIDERS: c.ORT_EXECUTION_PROVIDERS.split(",").map((s) => s.trim()).filter(Boolean),
      WEBHOOK_SECRET: c.WEBHOOK_SECRET === undefined ? [] : list(c.WEBHOOK_SECRET),
      WEBHOOK_ALLOW_HOSTS: list(c.WEBHOOK_ALLOW_HOSTS),
      WEBHOOK_RETRY_SCHEDULE: list(c.WEBHOOK_RETRY_SCHEDULE).map((x) => Number(x) * 1000),
      ROLES: [...new Set(list(c.ROLES))] as Role[],
      HOST_ID: c.HOST_ID ?? hostname(),
      REDIS_MIN_REPLICAS_ACK: replicasToAck(c),
    };
  });
export type Config = z.infer<typeof ConfigSchema>;

/** Variables whose values are never printed, not even in a configuration error (logs and terminals are shared). */
const SECRET_VARIABLES = new Set(["WEBHOOK_SECRET", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "REDIS_PASSWORD", "REDIS_SENTINEL_PASSWORD", "HF_TOKEN", "VIDEOSDGX_API_KEY"]);

/** A variable's value as a configuration error shows it: secrets by length only, a URL without its password. */
function shownValue(name: string, value: string): string {
  if (SECRET_VARIABLES.has(name)) return `<${value.length} characters, not shown>`;
  return JSON.stringify(name === "REDIS_URL" ? describeRedisTarget(value) : value);
}

/** Parses the environment; throws a ConfigError listing every bad variable, for the caller to print and exit. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = ConfigSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}=${shownValue(String(i.path[0]), env[String(i.path[0])] ?? "")}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}

/** Start-up helper for process entry points: a readable message and exit code `ExitCode.config`, never a stack trace. */
export function loadConfigOrExit(processName: string): Config {
  try {
    return loadConfig();
  } catch (err) {
    process.stderr.write(`${processName}: ${(err as Error).message}\n`);
    process.exit(ExitCode.config);
  }
}
