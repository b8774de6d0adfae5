import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { Redis } from "ioredis";
import { createLogger } from "@videosdgx/shared";
import { TestRedis, makeTempDir } from "@videosdgx/shared/testing";
import { shutDownLeftoverRedis } from "./own-redis.js";

const quiet = createLogger("own-redis-test", "error");

async function redisIn(t: test.TestContext, prefix: string): Promise<{ dir: string; redis: TestRedis }> {
  const { dir, remove } = await makeTempDir(prefix);
  const redis = await TestRedis.start(dir);
  t.after(async () => {
    await redis.kill().catch(() => undefined);
    await remove();
  });
  return { dir, redis };
}

const record = (dir: string, r: TestRedis) => writeFile(path.join(dir, "own-redis.json"), JSON.stringify({ pid: r.pid, port: r.port }));

test("a Redis left running on our data dir is shut down with its data kept", async (t) => {
  const { dir, redis } = await redisIn(t, "vdgx-leftover");
  const client = new Redis(redis.url);
  await client.set("kept", "yes");
  client.disconnect();
  await record(dir, redis);

  await shutDownLeftoverRedis(dir, quiet);
  const gone = new Redis(redis.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  gone.on("error", () => undefined);
  await assert.rejects(gone.connect());
  await redis.restart();
  const again = new Redis(redis.url);
  t.after(() => again.disconnect());
  assert.equal(await again.get("kept"), "yes");
});

test("a record pointing at a Redis of another data dir touches nothing", async (t) => {
  const foreign = await redisIn(t, "vdgx-foreign");
  const { dir, remove } = await makeTempDir("vdgx-ours");
  t.after(remove);
  await record(dir, foreign.redis);

  await shutDownLeftoverRedis(dir, quiet);
  const client = new Redis(foreign.redis.url);
  t.after(() => client.disconnect());
  assert.equal(await client.ping(), "PONG");
});
