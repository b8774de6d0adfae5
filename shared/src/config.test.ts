import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ConfigSchema, loadConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import { describeRedisTarget, redisTargetOf } from "./redis.js";
import { S3Outputs } from "./storage/s3-outputs.js";

test("defaults give a working local set-up", () => {
  const c = loadConfig({});
  assert.equal(c.HOST, "127.0.0.1");
  assert.equal(c.PORT, 8000);
  assert.equal(c.MODELS_DIR, path.resolve("data/models"));
  assert.deepEqual(c.ORT_EXECUTION_PROVIDERS, ["cpu"]);
});

test("bad values fail with every variable named", () => {
  assert.throws(
    () => loadConfig({ PORT: "eighty", REDIS_URL: "http://x", X264_PRESET: "turbo" }),
    (err: unknown) =>
      err instanceof ConfigError && /PORT="eighty"/.test(err.message) && /REDIS_URL/.test(err.message) && /X264_PRESET/.test(err.message),
  );
});

test(".env.example documents every variable, each with a comment", async () => {
  const { readFile } = await import("node:fs/promises");
  const example = await readFile(new URL("../../.env.example", import.meta.url), "utf8");
  const lines = example.split("\n");
  for (const key of Object.keys(ConfigSchema.in.shape)) {
    const at = lines.findIndex((l) => new RegExp(`^#? ?${key}=`).test(l));
    assert.ok(at > 0, `${key} is missing from .env.example`);
    assert.ok(lines.slice(0, at).reverse().find((l) => !/^#? ?[A-Z0-9_]+=/.test(l))?.startsWith("#"), `${key} has no comment`);
  }
});

test("REDIS_SENTINELS parses host:port lists, IPv6 in brackets, and needs REDIS_SENTINEL_NAME", () => {
  const c = loadConfig({ REDIS_SENTINELS: "10.0.0.1:26379, sentinel-b:26380,[::1]:26381", REDIS_SENTINEL_NAME: "vdgx" });
  assert.deepEqual(c.REDIS_SENTINELS, [
    { host: "10.0.0.1", port: 26379 },
    { host: "sentinel-b", port: 26380 },
    { host: "::1", port: 26381 },
  ]);
  assert.throws(() => loadConfig({ REDIS_SENTINELS: "10.0.0.1:26379" }), /REDIS_SENTINEL_NAME="": is required with REDIS_SENTINELS/);
  assert.throws(() => loadConfig({ REDIS_SENTINELS: "10.0.0.1,b:99999", REDIS_SENTINEL_NAME: "m" }), /REDIS_SENTINELS=.*bad: 10\.0\.0\.1, b:99999/);
  assert.throws(() => loadConfig({ REDIS_SENTINEL_NAME: "m" }), /REDIS_SENTINEL_NAME="m": has no effect without REDIS_SENTINELS/);
});

test("Redis credentials: their own variables with sentinels, in the URL otherwise; no error or description shows them", () => {
  const c = loadConfig({ REDIS_SENTINELS: "10.0.0.1:26379", REDIS_SENTINEL_NAME: "vdgx", REDIS_USERNAME: "vdgx", REDIS_PASSWORD: "pw-data", REDIS_SENTINEL_PASSWORD: "pw-sentinel", REDIS_SENTINEL_TLS: "true" });
  const target = redisTargetOf(c);
  assert.deepEqual(target, { sentinels: [{ host: "10.0.0.1", port: 26379 }], name: "vdgx", username: "vdgx", password: "pw-data", sentinelPassword: "pw-sentinel", tls: true });
  assert.equal(describeRedisTarget(target!), "sentinels 10.0.0.1:26379 (master vdgx, TLS)");
  assert.equal(describeRedisTarget("rediss://vdgx:s3cret@redis.internal:6380/0"), "rediss://vdgx:***@redis.internal:6380/0");
  assert.throws(() => loadConfig({ REDIS_URL: "redis://127.0.0.1:6379", REDIS_PASSWORD: "pw-data" }), (err: Error) => {
    assert.match(err.message, /REDIS_PASSWORD=<7 characters, not shown>: is for REDIS_SENTINELS; with REDIS_URL put credentials and TLS in the URL/);
    return true;
  });
  for (const [name, value] of [["WEBHOOK_SECRET", "not-a-whsec-secret"], ["HF_TOKEN", "hf_abc def"], ["REDIS_URL", "redis://:hunter2hunter2@h:99999999"]] as const) {
    assert.throws(() => loadConfig({ [name]: value }), (err: Error) => {
      assert.match(err.message, new RegExp(`${name}=`), `${name} is named`);
      assert.ok(!err.message.includes(name === "REDIS_URL" ? "hunter2" : value), `${name}'s value is not shown: ${err.message}`);
      return true;
    });
  }
});

test("REDIS_URL and REDIS_SENTINELS name one Redis two ways: only one may be set", () => {
  assert.throws(
    () => loadConfig({ REDIS_URL: "redis://127.0.0.1:6379", REDIS_SENTINELS: "127.0.0.1:26379", REDIS_SENTINEL_NAME: "m" }),
    /REDIS_SENTINELS=.*set REDIS_URL or REDIS_SENTINELS, not both/,
  );
});

test("REDIS_MIN_REPLICAS_ACK: 0 with a single Redis, 1 under Sentinel, an explicit value wins", () => {
  const sentinels = { REDIS_SENTINELS: "10.0.0.1:26379", REDIS_SENTINEL_NAME: "vdgx" };
  assert.equal(loadConfig({}).REDIS_MIN_REPLICAS_ACK, 0, "a single Redis acknowledges on the primary's write");
  assert.equal(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" }).REDIS_MIN_REPLICAS_ACK, 0);
  assert.equal(loadConfig(sentinels).REDIS_MIN_REPLICAS_ACK, 1, "under Sentinel, 202 waits for a replica");
  assert.equal(loadConfig({ ...sentinels, REDIS_MIN_REPLICAS_ACK: "0" }).REDIS_MIN_REPLICAS_ACK, 0, "an explicit 0 wins");
  assert.equal(loadConfig({ ...sentinels, REDIS_MIN_REPLICAS_ACK: "2" }).REDIS_MIN_REPLICAS_ACK, 2);
  assert.equal(loadConfig({ REDIS_MIN_REPLICAS_ACK: "1" }).REDIS_MIN_REPLICAS_ACK, 1, "and with a single REDIS_URL too");
  assert.throws(() => loadConfig({ REDIS_MIN_REPLICAS_ACK: "17" }), /REDIS_MIN_REPLICAS_ACK=/);
});

test("ROLES: all three by default, any subset, nothing else; HOST_ID defaults to the hostname", async () => {
  const { hostname } = await import("node:os");
  assert.deepEqual(loadConfig({}).ROLES, ["api", "workers", "webhooks"]);
  assert.deepEqual(loadConfig({ ROLES: "workers" }).ROLES, ["workers"]);
  assert.deepEqual(loadConfig({ ROLES: "api, webhooks" }).ROLES, ["api", "webhooks"]);
  assert.throws(() => loadConfig({ ROLES: "api,gpu" }), (err: unknown) => err instanceof ConfigError && /ROLES="api,gpu"/.test(err.message));
  assert.equal(loadConfig({}).HOST_ID, hostname());
  assert.equal(loadConfig({ HOST_ID: "spark-2" }).HOST_ID, "spark-2");
});

test("OUTPUT_STORE=s3 needs a bucket, and credentials come in pairs", () => {
  assert.equal(loadConfig({}).OUTPUT_STORE, "fs");
  assert.throws(() => loadConfig({ OUTPUT_STORE: "s3" }), (err: unknown) => err instanceof ConfigError && /S3_BUCKET.*required when OUTPUT_STORE=s3/.test(err.message));
  assert.throws(() => loadConfig({ OUTPUT_STORE: "s3", S3_BUCKET: "Bad_Bucket" }), (err: unknown) => err instanceof ConfigError && /S3_BUCKET="Bad_Bucket"/.test(err.message));
  assert.throws(
    () => loadConfig({ OUTPUT_STORE: "s3", S3_BUCKET: "videos", AWS_ACCESS_KEY_ID: "id" }),
    (err: unknown) => err instanceof ConfigError && /AWS_SECRET_ACCESS_KEY/.test(err.message),
  );
  const c = loadConfig({ OUTPUT_STORE: "s3", S3_BUCKET: "videos", S3_ENDPOINT: "http://127.0.0.1:9000", S3_FORCE_PATH_STYLE: "1", S3_PRESIGN: "1" });
  assert.deepEqual([c.S3_BUCKET, c.S3_FORCE_PATH_STYLE, c.S3_PRESIGN, c.S3_REGION], ["videos", true, true, "us-east-1"]);
});

test("AWS_SESSION_TOKEN: temporary credentials reach the S3 client with their token, which is never shown", async () => {
  const store = { OUTPUT_STORE: "s3", S3_BUCKET: "videos", AWS_ACCESS_KEY_ID: "ASIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret-key" };
  const credentials = async (env: NodeJS.ProcessEnv) => {
    const { accessKeyId, secretAccessKey, sessionToken } = await new S3Outputs(loadConfig(env), "test").client.config.credentials();
    return { accessKeyId, secretAccessKey, sessionToken };
  };
  assert.deepEqual(
    await credentials({ ...store, AWS_SESSION_TOKEN: "session-token-value" }),
    { accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret-key", sessionToken: "session-token-value" },
  );
  assert.equal((await credentials(store)).sessionToken, undefined, "a long-lived pair has no token");
  assert.throws(() => loadConfig({ OUTPUT_STORE: "s3", S3_BUCKET: "videos", AWS_SESSION_TOKEN: "session-token-value" }), (err: Error) => {
    assert.match(err.message, /AWS_SESSION_TOKEN=<19 characters, not shown>: belongs to a temporary key pair/);
    assert.ok(!err.message.includes("session-token-value"));
    return true;
  });
});

test("the CLI's VIDEOSDGX_URL defaults to this machine's API, loopback when it listens everywhere", () => {
  assert.equal(loadConfig({}).VIDEOSDGX_URL, "http://127.0.0.1:8000");
  assert.equal(loadConfig({ HOST: "0.0.0.0", PORT: "9000" }).VIDEOSDGX_URL, "http://127.0.0.1:9000");
  assert.equal(loadConfig({ HOST: "::1" }).VIDEOSDGX_URL, "http://[::1]:8000");
  assert.equal(loadConfig({ VIDEOSDGX_URL: "https://spark.example:8443/" }).VIDEOSDGX_URL, "https://spark.example:8443");
  assert.throws(() => loadConfig({ VIDEOSDGX_URL: "redis://x" }), /VIDEOSDGX_URL/);
});
