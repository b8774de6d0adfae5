import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { redisKeys } from "@videosdgx/shared";
import { Platform } from "./platform.js";

const GB = 1_000_000_000;
// One GPU slot and memory for one model at a time: every switch of model is a swap.
const footprint = { residentBytes: 2 * GB, loadPeakFactor: 1 };

let p: Platform;
let redis: Redis;
before(async () => {
  p = await Platform.start({
    env: { MEMORY_BUDGET_BYTES: String(3 * GB), GPU_CONCURRENCY: "1", IDLE_UNLOAD_SECONDS: "0", MAX_WAIT_SECONDS: "600" },
    extraTinyModels: [{ name: "tinya", ...footprint }, { name: "tinyb", ...footprint }],
  });
  redis = new Redis(p.redis.url);
});
after(async () => {
  redis?.disconnect();
  await p?.stop();
});

const long = { prompt: "long", width: 512, height: 512, num_frames: 65, steps: 600, seed: 1 };
const short = { prompt: "short", width: 64, height: 64, num_frames: 5, steps: 2, seed: 1 };
const submit = async (model: string, body: object) => (await p.request("POST", "/v1/jobs", { model, ...body })).body.id as string;
const finishedAt = (j: any) => new Date(j.finished_at).getTime();

async function restartWorkers(env: Record<string, string>): Promise<void> {
  for (const model of ["tinya", "tinyb"]) {
    await p.workers.get(model)?.stop();
    await p.startWorker(model, { env });
  }
}

test("jobs of the loaded model go first (fewer swaps); one generation at a time", async () => {
  await restartWorkers({});
  const a1 = await submit("tinya", long);
  await p.waitForJob(a1, (j) => j.progress.phase === "denoising");
  const b1 = await submit("tinyb", short);
  await p.waitForJob(b1, (j) => j.progress.phase === "waiting_for_gpu");
  const a2 = await submit("tinya", short);
  const a3 = await submit("tinya", { ...short, seed: 2 });
  const [ja1, jb1, ja2, ja3] = await Promise.all([a1, b1, a2, a3].map((id) => p.waitForTerminal(id)));
  assert.ok([ja1, jb1, ja2, ja3].every((j) => j.status === "completed"));
  assert.ok(finishedAt(ja2) < finishedAt(jb1) && finishedAt(ja3) < finishedAt(jb1), "tinya's later jobs ran before the swap to tinyb");
  assert.equal(typeof jb1.timings.wait_for_gpu_ms, "number");
  assert.equal(Number(await redis.get(redisKeys("e2e").gpu(hostname()).highWater)), 1, "never two generations at once");
});

test("no job starves: once younger jobs have held the GPU for MAX_WAIT_SECONDS, the passed job goes next", async () => {
  await restartWorkers({ MAX_WAIT_SECONDS: "1" });
  const a1 = await submit("tinya", long);
  await p.waitForJob(a1, (j) => j.progress.phase === "denoising");
  const b1 = await submit("tinyb", short);
  await p.waitForJob(b1, (j) => j.progress.phase === "waiting_for_gpu");
  // tinya is loaded: a2 passes b1, and holds the GPU for longer than MAX_WAIT; a3 then may not pass b1.
  const a2 = await submit("tinya", long);
  const a3 = await submit("tinya", short);
  const [, jb1, ja2, ja3] = await Promise.all([a1, b1, a2, a3].map((id) => p.waitForTerminal(id)));
  assert.ok(ja2.timings.denoise_ms > 1000, `the premise: a2 held the GPU past MAX_WAIT (denoising took ${ja2.timings.denoise_ms} ms)`);
  assert.ok(finishedAt(ja2) < finishedAt(jb1), "the loaded model's job passed the older one while budget was left");
  assert.ok(finishedAt(jb1) < finishedAt(ja3), "once the budget was used up, the passed job went before tinya's newer job");
});
