import assert from "node:assert/strict";
import { utimes } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { BullLayout, LocalInputStore, newJobId, queueName } from "@videosdgx/shared";
import { TestRedis, makeTempDir } from "@videosdgx/shared/testing";
import { sweepInputs } from "./input-retention.js";

let server: TestRedis;
let redis: Redis;
let dir: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir, remove: cleanup } = await makeTempDir("input-retention"));
  server = await TestRedis.start(path.join(dir, "redis"));
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.kill("SIGTERM");
  await cleanup();
});

const MINUTE = 60_000;

test("inputs of removed jobs of any model go once settled; a live job's, a fresh one's and no job's stay", async () => {
  const prefix = "sweep";
  const store = new LocalInputStore(path.join(dir, "inputs"));
  const layout = new BullLayout(prefix);
  // Two models' queues, one of them with no worker anywhere: the sweep reads job ids, not its own queue.
  const queues = ["wan21i2v", "othermodel"].map((m) => new Queue(queueName(m), { connection: redis, prefix }));
  try {
    const live = newJobId("wan21i2v");
    await queues[0]!.add("generate", {}, { jobId: live });
    const removed = [newJobId("wan21i2v"), newJobId("othermodel")];
    const failedKept = newJobId("othermodel");
    await queues[1]!.add("generate", {}, { jobId: failedKept });
    const fresh = newJobId("wan21i2v"); // the API writes the input before it adds the job
    const keys = {
      live: `${live}.png`, removed: removed.map((id) => `${id}.jpg`), kept: `${failedKept}.webp`, fresh: `${fresh}.png`, foreign: "notes.txt",
    };
    const now = Date.now();
    for (const key of [keys.live, ...keys.removed, keys.kept, keys.fresh, keys.foreign]) {
      await store.put(key, Buffer.from(key));
      const age = key === keys.fresh ? 1 * MINUTE : 30 * MINUTE;
      const at = new Date(now - age);
      await utimes(path.join(store.dir, key), at, at);
    }
    const swept = await sweepInputs(store, redis, layout, now);
    assert.deepEqual(swept.sort(), [...keys.removed].sort());
    assert.deepEqual((await store.list()).map((i) => i.key).sort(), [keys.live, keys.kept, keys.fresh, keys.foreign].sort());
    // Once the fresh input's job is gone too and it has settled, it goes.
    assert.deepEqual(await sweepInputs(store, redis, layout, now + 30 * MINUTE), [keys.fresh]);
    assert.deepEqual(await sweepInputs(store, redis, layout, now + 30 * MINUTE), [], "nothing more to remove");
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
});
