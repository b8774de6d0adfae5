import assert from "node:assert/strict";
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { Queue } from "bullmq";
import { GENERATE_JOB, createRedis, newJobId, queueName } from "@videosdgx/shared";
import { spawnNode, waitFor } from "@videosdgx/shared/testing";
import { generateTinyModel } from "@videosdgx/workers/tiny";
import { WORKER_MAIN } from "../entry-points.js";
import { Platform } from "./platform.js";

let p: Platform;
before(async () => {
  p = await Platform.start({ extraTinyModels: ["tinyb", "tinyc"], env: { IDLE_UNLOAD_SECONDS: "2" } });
});
after(() => p?.stop());

const small = (model: string) => ({ model, prompt: "a small job", width: 64, height: 64, num_frames: 5, steps: 2, seed: 1 });

// This machine's binding (linux x64 from npm) lists cuda, but its CUDA libraries were never installed.
test("a worker asked for an execution provider that does not work here refuses to start with ORT's reason", async () => {
  const w = spawnNode("worker-cuda", WORKER_MAIN, { ...p.env, ORT_EXECUTION_PROVIDERS: "cuda,cpu" }, ["--model", "tiny"]);
  const exit = await w.exited;
  assert.equal(exit.code, 2);
  assert.match(w.output, /"cuda" does not work here: a library it needs is missing: \S+\/libonnxruntime_providers_shared\.so: cannot open shared object file/);
  assert.match(w.output, /ONNX Runtime: .*Failed to load shared library/);
  assert.match(w.output, /infra\/docker\/Dockerfile\.cuda/);
  assert.doesNotMatch(w.output, /worker ready|\n\s+at /);
});

test("a worker asked for cpu explicitly starts", async () => {
  const w = spawnNode("worker-cpu", WORKER_MAIN, { ...p.env, ORT_EXECUTION_PROVIDERS: "cpu" }, ["--model", "tinyb"]);
  await w.waitForOutput(/worker ready/);
  await w.stop();
});

test("a worker started with --wait-for-model waits for its folder, says so once, and starts when it appears", async () => {
  const w = spawnNode("worker-tinyw", WORKER_MAIN, p.env, ["--model", "tinyw", "--wait-for-model"]);
  try {
    await w.waitForOutput(/model not installed; waiting for it.*tinyw.*does not exist/);
    assert.equal(w.child.exitCode, null, "still running");
    // Written aside and moved into place, as `models pull` does: the worker never sees half a folder.
    const staged = path.join(p.dataDir, "models", ".partial-tinyw");
    await generateTinyModel(staged, { name: "tinyw" });
    await rename(staged, path.join(p.dataDir, "models", "tinyw"));
    await w.waitForOutput(/worker ready/, 60000);
    assert.equal(w.output.match(/waiting for it/g)?.length, 1, w.output);
  } finally {
    await w.stop();
  }
});

test("a model file broken after its first byte is listed as broken, with how to repair it, and refused", async () => {
  const file = path.join(p.dataDir, "models/tinyc/transformer/model.onnx");
  await writeFile(file, (await readFile(file)).subarray(0, 2000));
  const model = (await p.request("GET", "/v1/models/tinyc")).body;
  assert.equal(model.installed, false);
  assert.match(model.reason, /^transformer\/model\.onnx is damaged: .*runs past the end of the file; download or export the model again into /);
  const res = await p.request("POST", "/v1/jobs", small("tinyc"));
  assert.equal(res.status, 503);
  assert.equal(res.body.error.code, "model_unavailable");
  assert.match(res.body.error.message, /transformer\/model\.onnx is damaged/);
});

test("a sound graph the runtime cannot load fails the job with the file named, without retries", async () => {
  // The structure checks out, so only loading finds it.
  await p.makeUnloadable("tinyb");
  const res = await p.request("POST", "/v1/jobs", small("tinyb"));
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await p.startWorker("tinyb");
  const job = await p.waitForTerminal(res.body.id);
  assert.equal(job.status, "failed");
  assert.equal(job.error.code, "model_load_failed");
  assert.match(job.error.message, /loading tinyb\/transformer\/model\.onnx failed: /);
  assert.equal(job.attempts, 1, "another attempt cannot fix a broken file");
});

test("a model is loaded on its first job, kept, and unloaded after IDLE_UNLOAD_SECONDS", async () => {
  await p.startWorker("tiny");
  const loaded = async () => (await p.request("GET", "/v1/models/tiny")).body.loaded as boolean;
  assert.equal(await loaded(), false);
  const first = await p.waitForTerminal((await p.request("POST", "/v1/jobs", small("tiny"))).body.id);
  assert.equal(typeof first.timings.load_ms, "number");
  const second = await p.waitForTerminal((await p.request("POST", "/v1/jobs", { ...small("tiny"), seed: 2 })).body.id);
  assert.equal(second.timings.load_ms, undefined, "kept loaded between jobs");
  assert.equal(await loaded(), true, "the worker's heartbeat reports the model loaded");
  await waitFor("the model to be unloaded after the idle time", async () => !(await loaded()), 15000, 250);
  const third = await p.waitForTerminal((await p.request("POST", "/v1/jobs", { ...small("tiny"), seed: 3 })).body.id);
  assert.equal(typeof third.timings.load_ms, "number", "loaded again on demand");
});

test("a job whose data this version cannot run (another version's or program's payload) fails at once as invalid_job_data", async () => {
  if (!p.workers.has("tiny")) await p.startWorker("tiny");
  const connection = createRedis(p.redis.url, "worker");
  const queue = new Queue(queueName("tiny"), { connection, prefix: p.env.QUEUE_PREFIX });
  const id = newJobId("tiny");
  // As an older release might have stored it: resolution as text, no seed, steps as a string.
  await queue.add(GENERATE_JOB, { ...small("tiny"), negative_prompt: "", fps: 8, duration_s: 0.6, guidance: 1, resolution: "64x64", steps: "2", seed: undefined }, { jobId: id, attempts: 3 });
  await queue.close();
  connection.disconnect();
  const job = await p.waitForTerminal(id);
  assert.equal(job.status, "failed");
  assert.equal(job.error.code, "invalid_job_data");
  assert.match(job.error.message, /steps: .*number.*; seed: /);
  assert.equal(job.attempts, 1, "no attempt can run it: not retried");
  await p.workers.get("tiny")!.waitForOutput(/"msg":"job failed".*"code":"invalid_job_data"/);
});
