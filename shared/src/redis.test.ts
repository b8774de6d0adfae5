import assert from "node:assert/strict";
import { once } from "node:events";
import path from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { loadConfig } from "./config.js";
import { createRedis, redisTargetOf } from "./redis.js";
import { TestSentinelSet, makeTempDir } from "./testing/index.js";

let set: TestSentinelSet;
let remove: () => Promise<void>;
before(async () => {
  const tmp = await makeTempDir("vdgx-redis-sentinel");
  remove = tmp.remove;
  set = await TestSentinelSet.start(path.join(tmp.dir, "set"));
});
after(async () => {
  await set?.stop();
  await remove?.();
});

test("through Sentinel, a connection follows a graceful failover by itself: its next write reaches the promoted primary", async () => {
  const redis = createRedis(redisTargetOf(loadConfig(set.env))!, "worker", "failover-test");
  try {
    assert.equal(await redis.set("k", "before"), "OK");
    const reconnected = once(redis, "ready");
    // Graceful: the old primary stays up and is demoted to replica; writing to it would be refused or,
    // before its demotion, thrown away by it. The connection must reconnect to the promoted one.
    const old = await set.requestFailover();
    const promoted = await set.waitForFailover(old);
    await reconnected;
    assert.equal(await redis.set("k", "after"), "OK");
    const direct = new Redis(`redis://127.0.0.1:${promoted}`);
    try {
      assert.equal(await direct.get("k"), "after", "the write went to the promoted primary");
    } finally {
      direct.disconnect();
    }
  } finally {
    redis.disconnect();
  }
});
