import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { GpuSlots, MemoryLedger, pickFifo, pickNext } from "@videosdgx/shared";
import { TestRedis, makeTempDir } from "@videosdgx/shared/testing";
import { simulate, type SimJob, type SimModel } from "./scheduler-sim.js";

const GB = 1e9;
let server: TestRedis;
let redis: Redis;
let remove: () => Promise<void>;
before(async () => {
  const tmp = await makeTempDir("sim");
  remove = tmp.remove;
  server = await TestRedis.start(path.join(tmp.dir, "redis"));
  redis = new Redis(server.url);
});
after(async () => {
  redis.disconnect();
  await server.kill("SIGTERM");
  await remove();
});

// Two models that cannot be loaded together; jobs alternate, one every 70 s: FIFO, swapping on every job
// (60 s load + 60 s generation), falls behind; grouping by loaded model keeps up.
const models: SimModel[] = [
  { name: "big", residentBytes: 60 * GB, peakBytes: 80 * GB, generateMs: 60_000, loadMs: 80_000 },
  { name: "mid", residentBytes: 40 * GB, peakBytes: 60 * GB, generateMs: 60_000, loadMs: 60_000 },
];
const trace: SimJob[] = Array.from({ length: 30 }, (_, id) => ({ id, model: id % 2 ? "mid" : "big", arrivalMs: id * 70_000 }));
const BUDGET = 100 * GB;

test("on alternating jobs the platform's policy swaps far less than FIFO, within the budget and the wait bound", async () => {
  const maxWaitMs = 5 * 60_000;
  const ours = new MemoryLedger(redis, "sim-ours", "h", BUDGET, 3_600_000);
  const fifo = new MemoryLedger(redis, "sim-fifo", "h", BUDGET, 3_600_000);
  const p = await simulate(models, trace, (c) => pickNext(c, maxWaitMs), ours, new GpuSlots(redis, "sim-ours", "h", 1, 3_600_000));
  const f = await simulate(models, trace, (c) => pickFifo(c), fifo, new GpuSlots(redis, "sim-fifo", "h", 1, 3_600_000));
  assert.equal(p.completed, 30);
  assert.equal(f.completed, 30);
  assert.equal(f.loads, 30, "FIFO reloads on every job");
  assert.ok(p.loads <= f.loads / 2, `policy loads ${p.loads}`);
  assert.ok(p.computeShare > f.computeShare);
  const oneJob = 60_000 + 80_000;
  const longestWait = Math.max(...p.waitsMs);
  assert.ok(longestWait <= maxWaitMs + oneJob, `longest wait ${longestWait}`);
  for (const l of [ours, fifo]) {
    const s = await l.state();
    assert.ok(s.highWater <= BUDGET);
    assert.equal(s.sum, 0, "everything released at the end");
  }
});
