import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { hostname } from "node:os";
import { redisKeys } from "@videosdgx/shared";
import { waitFor } from "@videosdgx/shared/testing";
import { Platform } from "./platform.js";

const GB = 1_000_000_000;
const BUDGET = 3 * GB;
// Two models whose declared footprints cannot both be loaded within the budget (2 + 2.4 > 3).
const footprint = { residentBytes: 2 * GB, loadPeakFactor: 1.2 };

let p: Platform;
let redis: Redis;
before(async () => {
  p = await Platform.start({
    // Two GPU slots: here memory, not the GPU, is what a second job waits for.
    env: { MEMORY_BUDGET_BYTES: String(BUDGET), IDLE_UNLOAD_SECONDS: "0", GPU_CONCURRENCY: "2" },
    extraTinyModels: [
      { name: "tinya", ...footprint },
      { name: "tinyb", ...footprint },
      { name: "tinyc", residentBytes: 5 * GB, loadPeakFactor: 1.2 },
    ],
  });
  redis = new Redis(p.redis.url);
  await p.startWorker("tinya");
  await p.startWorker("tinyb");
  await p.startWorker("tinyc");
});
after(async () => {
  redis?.disconnect();
  await p?.stop();
});

const job = (model: string, steps = 2) => ({ model, prompt: "memory", width: 64, height: 64, num_frames: 5, steps, seed: 1 });
const ledger = redisKeys("e2e").memory(hostname());
/**
 * An unloaded worker may keep a reservation for what its model left in the process (allocator arenas,
 * memory-recycle.e2e covers it); that is a fraction of a model, never a model.
 */
const LEFT_IN_PROCESS_MAX = footprint.residentBytes / 10;
const models = async () =>
  Object.fromEntries(((await p.request("GET", "/v1/models")).body.models as any[]).map((m) => [m.name, m]));

test("a second model waits for memory, the idle one is evicted, both stay within the budget", async () => {
  const a = await p.waitForTerminal((await p.request("POST", "/v1/jobs", job("tinya"))).body.id);
  assert.equal(a.status, "completed");
  const view = (await models()).tinya;
  assert.equal(view.workers[0].reserved_bytes, 2 * GB, "shrunk from the load peak to the resident footprint");
  assert.ok(view.measured_bytes[hostname()] > 0, "the real growth of the load was measured and recorded");
  assert.equal(view.queue_depth, 0);

  const b = await p.waitForTerminal((await p.request("POST", "/v1/jobs", job("tinyb"))).body.id);
  assert.equal(b.status, "completed", JSON.stringify(b.error));
  assert.equal(typeof b.timings.wait_for_memory_ms, "number", "it had to wait");
  const after = await models();
  assert.equal(after.tinya.loaded, false, "the idle model was unloaded");
  assert.equal(after.tinyb.loaded, true);
  assert.ok(Number(await redis.get(ledger.highWater)) <= BUDGET);
});

test("a model running a job is never evicted; the waiting job says why and goes on afterwards", async () => {
  const long = (await p.request("POST", "/v1/jobs", { ...job("tinya", 1000), width: 512, height: 512, num_frames: 65 })).body.id;
  await p.waitForJob(long, (j) => j.status === "running" && j.progress.phase === "denoising" && j.progress.step > 2);
  const waiting = (await p.request("POST", "/v1/jobs", job("tinyb"))).body.id;
  const seen = await p.waitForJob(waiting, (j) => j.progress.phase === "waiting_for_memory");
  assert.match(seen.progress.memory.message, /every loaded model is running a job/);
  assert.equal(seen.progress.memory.needed_bytes, 2.4 * GB);
  assert.equal(seen.progress.memory.budget_bytes, BUDGET);
  assert.equal(seen.progress.memory.host, hostname(), "the host whose memory it waits for");
  // The first scrape already shows the wait: the bytes are read in the same scrape as the count.
  const metrics = (await p.request("GET", "/metrics")).body as string;
  const lines = metrics.split("\n");
  assert.ok(lines.includes(`vdgx_jobs_waiting_for_memory{host="${hostname()}",model="tinyb"} 1`), metrics);
  assert.ok(lines.includes(`vdgx_memory_wait_bytes{host="${hostname()}",model="tinyb",kind="needed"} ${2.4 * GB}`), metrics);

  assert.equal((await p.request("GET", `/v1/jobs/${long}`)).body.status, "running", "the busy model kept running");
  const first = await p.waitForTerminal(long);
  assert.equal(first.status, "completed", "never evicted mid-job");
  assert.ok(new Date(first.finished_at).getTime() <= Date.now());
  const second = await p.waitForTerminal(waiting);
  assert.equal(second.status, "completed");
  assert.ok(Number(await redis.get(ledger.highWater)) <= BUDGET);
  const held = await redis.hgetall(ledger.reservations);
  const modelSized = Object.values(held).map(Number).filter((bytes) => bytes > LEFT_IN_PROCESS_MAX);
  assert.deepEqual(modelSized, [footprint.residentBytes], `one model loaded: ${JSON.stringify(held)}`);
});

test("a model that can never fit the budget is refused at submit time", async () => {
  const res = await p.request("POST", "/v1/jobs", job("tinyc"));
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, "exceeds_memory_budget");
  assert.match(res.body.error.message, /tinyc needs 6\.00 GB to load; the largest memory budget of its workers is 3\.00 GB/);
});

test("models can be unloaded and warmed up on request", async () => {
  const loadedNow = async (m: string) => (await models())[m].loaded as boolean;
  const loadedName = (await loadedNow("tinya")) ? "tinya" : "tinyb";
  const other = loadedName === "tinya" ? "tinyb" : "tinya";
  const workerId = (await models())[loadedName].workers[0].id as string;
  const unload = await p.request("POST", `/v1/models/${loadedName}/unload`);
  assert.deepEqual([unload.status, unload.body], [202, { model: loadedName, action: "unload", workers: 1 }]);
  await waitFor("the unload", async () => !(await loadedNow(loadedName)));
  const left = Number((await redis.hget(ledger.reservations, workerId)) ?? 0);
  assert.ok(left <= LEFT_IN_PROCESS_MAX, `its model's reservation was released (${left} bytes left)`);

  assert.equal((await p.request("POST", `/v1/models/${other}/load`)).status, 202);
  await waitFor("the warm-up", () => loadedNow(other));
  const warm = await p.waitForTerminal((await p.request("POST", "/v1/jobs", job(other))).body.id);
  assert.equal(warm.timings.load_ms, undefined, "the job found its model warm");
  assert.equal((await p.request("POST", "/v1/models/wan21/load")).status, 503);
});
