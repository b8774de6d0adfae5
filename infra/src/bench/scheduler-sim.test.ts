import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { GpuSlots, MemoryLedger, pickFifo, pickNext } from "@videosdgx/shared";
import { TestRedis, makeTempDir } from "@videosdgx/shared/testing";
import { simulate, type Policy, type SimJob, type SimModel } from "./scheduler-sim.js";

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

const oneJob = 60_000 + 80_000;
let runs = 0;
async function run(jobs: SimJob[], policy: Policy) {
  const prefix = `sim${runs++}`;
  const ledger = new MemoryLedger(redis, prefix, "h", BUDGET, 3_600_000);
  return { ledger, result: await simulate(models, jobs, policy, ledger, new GpuSlots(redis, prefix, "h", 1, 3_600_000)) };
}

test("on alternating jobs the platform's policy swaps far less than FIFO, within the budget and the wait bound", async () => {
  const maxWaitMs = 5 * 60_000;
  const { ledger: ours, result: p } = await run(trace, (c) => pickNext(c, maxWaitMs));
  const { ledger: fifo, result: f } = await run(trace, (c) => pickFifo(c));
  assert.equal(p.completed, 30);
  assert.equal(f.completed, 30);
  assert.equal(f.loads, 30, "FIFO reloads on every job");
  assert.ok(p.loads <= f.loads / 2, `policy loads ${p.loads}`);
  assert.ok(p.computeShare > f.computeShare);
  const longestWait = Math.max(...p.waitsMs);
  assert.ok(longestWait <= maxWaitMs + oneJob, `longest wait ${longestWait}`);
  for (const l of [ours, fifo]) {
    const s = await l.state();
    assert.ok(s.highWater <= BUDGET);
    assert.equal(s.sum, 0, "everything released at the end");
  }
});

test("with a backlog far longer than MAX_WAIT it still batches, and no job is passed for more than MAX_WAIT + one job", async () => {
  // 40 alternating jobs at once: every job waits far longer than maxWait, whatever the order.
  const backlog: SimJob[] = Array.from({ length: 40 }, (_, id) => ({ id, model: id % 2 ? "mid" : "big", arrivalMs: id }));
  const maxWaitMs = 5 * 60_000;
  const { result: p } = await run(backlog, (c) => pickNext(c, maxWaitMs));
  const { result: f } = await run(backlog, (c) => pickFifo(c));
  assert.equal(f.loads, 40);
  assert.ok(p.loads <= 10, `policy loads ${p.loads}: batches of about maxWait of work per swap`);
  const mostPassed = Math.max(...p.passedMs);
  assert.ok(mostPassed >= maxWaitMs / 2, `jobs were passed (${mostPassed} ms)`);
  assert.ok(mostPassed <= maxWaitMs + oneJob, `most passed ${mostPassed} ms`);
  assert.equal(Math.max(...f.passedMs), 0, "FIFO passes no one");
});
