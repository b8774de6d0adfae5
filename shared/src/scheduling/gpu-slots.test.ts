import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { TestRedis, makeTempDir } from "../testing/processes.js";
import { GpuSlots } from "./gpu-slots.js";

let server: TestRedis;
let redis: Redis;
let cleanup: () => Promise<void>;
before(async () => {
  const tmp = await makeTempDir("gpu-slots");
  cleanup = tmp.remove;
  server = await TestRedis.start(tmp.dir);
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.kill("SIGTERM");
  await cleanup();
});

const waiter = (workerId: string, model: string, since: number) => ({ workerId, model, loaded: false, priority: 0, since });

test("releasing a slot charges its time once per model to the jobs it passed, and to no younger one", async () => {
  const slots = new GpuSlots(redis, "t1", "h", 1, 60_000);
  await slots.wait(waiter("runner", "ltx2", 500));
  assert.ok(await slots.grant("runner"));
  assert.equal(await slots.grant("other"), false, "one slot");
  await slots.wait(waiter("b1", "wan21", 100));
  await slots.wait(waiter("b2", "wan21", 200)); // a second worker of the same model: charged once
  await slots.wait(waiter("c", "magi1", 900));
  await slots.release("runner", { since: 500, heldMs: 7000 });
  const passed = Object.fromEntries((await slots.waiters()).map((w) => [w.workerId, w.passedMs]));
  assert.deepEqual(passed, { b1: 7000, b2: 7000, c: 0 });
  assert.ok(await slots.grant("c"), "the slot is free again");
  await slots.release("c", { since: 900, heldMs: 3000 });
  const again = Object.fromEntries((await slots.waiters()).map((w) => [w.workerId, w.passedMs]));
  assert.deepEqual(again, { b1: 10_000, b2: 10_000 });
});

test("a model's next job does not inherit passes by jobs older than it", async () => {
  const slots = new GpuSlots(redis, "t2", "h", 1, 60_000);
  await slots.wait(waiter("w", "wan21", 100));
  await slots.wait(waiter("x", "ltx2", 300));
  assert.ok(await slots.grant("x"));
  await slots.release("x", { since: 300, heldMs: 5000 });
  assert.ok(await slots.grant("w"));
  await slots.wait(waiter("w", "wan21", 400)); // wan21's next job, submitted after the ltx2 job
  await slots.release("w", { since: 100, heldMs: 1000 });
  assert.deepEqual((await slots.waiters()).map((w) => [w.workerId, w.passedMs]), [["w", 0]]);
});

test("a release by a worker that no longer holds a slot charges nobody", async () => {
  const slots = new GpuSlots(redis, "t3", "h", 1, 60_000);
  await slots.wait(waiter("old", "wan21", 100));
  await slots.release("gone", { since: 500, heldMs: 4000 });
  assert.deepEqual((await slots.waiters()).map((w) => [w.workerId, w.passedMs]), [["old", 0]]);
  assert.equal(await redis.exists(slots.keys.passes), 0);
});

test("a waiter entry without a submission time is skipped and the release completes; the pass log expires", async () => {
  const slots = new GpuSlots(redis, "t4", "h", 1, 60_000);
  assert.ok(await slots.grant("runner"));
  await slots.wait(waiter("b", "wan21", 100));
  await redis.hset(slots.keys.waiters, "broken", JSON.stringify({ workerId: "broken", model: "magi1" }));
  await slots.release("runner", { since: 500, heldMs: 2000 });
  assert.equal(await redis.zscore(slots.keys.holders, "runner"), null, "the slot is freed");
  assert.deepEqual(JSON.parse((await redis.hget(slots.keys.passes, "wan21"))!), [[500, 2000]]);
  assert.equal(await redis.hexists(slots.keys.passes, "magi1"), 0);
  assert.ok((await redis.pttl(slots.keys.passes)) > 0);
});

test("asking again while holding a slot extends its lease", async () => {
  const slots = new GpuSlots(redis, "t5", "h", 1, 60_000);
  assert.ok(await slots.grant("w"));
  await redis.zadd(slots.keys.holders, Date.now() + 1000, "w");
  assert.ok(await slots.grant("w"));
  assert.ok(Number(await redis.zscore(slots.keys.holders, "w")) > Date.now() + 30_000);
});
