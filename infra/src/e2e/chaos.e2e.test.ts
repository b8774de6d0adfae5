import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { liveReservations, redisKeys } from "@videosdgx/shared";
import { seededRandom, waitFor } from "@videosdgx/shared/testing";
import { Platform, finishedOutputs } from "./platform.js";

const GB = 1_000_000_000;
const BUDGET = 5 * GB;
const MODELS = ["tinya", "tinyb", "tinyc"];
// Declared footprints that cannot all be loaded at once (2 + 2 + 2.5 > 5), short leases so that killed
// workers' reservations and GPU slots come back within the test.
const ENV = {
  MEMORY_BUDGET_BYTES: String(BUDGET), MEMORY_LEASE_MS: "3000", GPU_CONCURRENCY: "2", IDLE_UNLOAD_SECONDS: "0",
  LOCK_DURATION_MS: "2000", STALLED_INTERVAL_MS: "1000", JOB_BACKOFF_MS: "200", JOB_ATTEMPTS: "5", MAX_STALLED_COUNT: "10",
};

let p: Platform;
let redis: Redis;
before(async () => {
  p = await Platform.start({
    env: ENV,
    extraTinyModels: [
      { name: "tinya", residentBytes: 2 * GB, loadPeakFactor: 1 },
      { name: "tinyb", residentBytes: 2 * GB, loadPeakFactor: 1 },
      { name: "tinyc", residentBytes: 2.5 * GB, loadPeakFactor: 1 },
    ],
  });
  redis = new Redis(p.redis.url);
  for (const m of MODELS) await p.startWorker(m);
});
after(async () => {
  redis?.disconnect();
  await p?.stop();
});

test("random jobs, random SIGKILLs of workers and a Redis restart: every job done once, within the budget", async () => {
  const random = seededRandom(20261122);
  const ids: string[] = [];
  for (let i = 0; i < 14; i++) {
    const model = MODELS[Math.floor(random() * MODELS.length)]!;
    const steps = 20 + Math.floor(random() * 150);
    const res = await p.request("POST", "/v1/jobs", { model, prompt: `chaos ${i}`, width: 128, height: 128, num_frames: 17, steps, seed: i });
    assert.equal(res.status, 202);
    ids.push(res.body.id);
  }

  for (let round = 0; round < 4; round++) {
    await new Promise((r) => setTimeout(r, 800 + random() * 1200));
    const victim = MODELS[Math.floor(random() * MODELS.length)]!;
    const w = p.workers.get(victim)!;
    w.child.kill("SIGKILL");
    await w.exited;
    if (round === 1) {
      await p.redis.kill("SIGKILL");
      await p.redis.restart();
    }
    await p.startWorker(victim);
  }

  const jobs = await Promise.all(ids.map((id) => p.waitForTerminal(id, 240000)));
  assert.deepEqual(jobs.map((j) => j.status), ids.map(() => "completed"), JSON.stringify(jobs.filter((j) => j.status !== "completed").map((j) => j.error)));
  const files = await p.outputFiles();
  assert.deepEqual(files, finishedOutputs(ids), "exactly one video and its poster per job, no partial files");

  const keys = redisKeys("e2e");
  assert.ok(Number(await redis.get(keys.memory(hostname()).highWater)) <= BUDGET, "the budget was never exceeded");
  assert.ok(Number(await redis.get(keys.gpu(hostname()).highWater)) <= 2, "never more generations than GPU slots");
  for (const m of MODELS) await p.request("POST", `/v1/models/${m}/unload`);
  await waitFor("the ledger to empty (unloads, and leases of killed workers)", async () =>
    Object.keys(await liveReservations(redis, keys.memory(hostname()))).length === 0, 20000, 200);
});
