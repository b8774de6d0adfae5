import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Platform, finishedOutputs } from "./platform.js";

// Short locks so a killed worker's job is noticed as stalled within seconds rather than half a minute.
const FAST_RECOVERY = { LOCK_DURATION_MS: "2000", STALLED_INTERVAL_MS: "1000", JOB_BACKOFF_MS: "200" };

let p: Platform;
before(async () => {
  p = await Platform.start({ env: FAST_RECOVERY });
});
after(() => p?.stop());

const longJob = { model: "tiny", prompt: "a long walk", width: 256, height: 256, num_frames: 33, steps: 300, guidance: 2, seed: 11 };

test("a worker killed with SIGKILL mid-job: the job is picked up again and completes, one output file", async () => {
  const first = await p.startWorker("tiny");
  const res = await p.request("POST", "/v1/jobs", longJob);
  await p.waitForJob(res.body.id, (j) => j.status === "running" && j.progress.phase === "denoising" && j.progress.step >= 5);
  first.child.kill("SIGKILL");
  await first.exited;

  const second = await p.startWorker("tiny");
  const retried = await p.waitForJob(res.body.id, (j) => j.last_error !== undefined, 60000);
  assert.equal(retried.last_error.code, "worker_lost", "the cause of the lost attempt is shown while it is retried");
  assert.match(retried.last_error.message, /killed, e\.g\. by the out-of-memory killer, or crashed/);
  const job = await p.waitForTerminal(res.body.id, 180000);
  assert.equal(job.status, "completed", JSON.stringify(job.error));
  assert.ok(job.attempts >= 2, `attempts: ${job.attempts}`);
  // The restarted worker's log says what happened, with the run number the API shows.
  const lines = second.output.split("\n").flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
  const mine = (msg: RegExp) => lines.filter((l) => l.job_id === res.body.id && msg.test(l.msg));
  const stalled = mine(/worker died mid-job/);
  assert.ok(stalled.length >= 1, `a stalled-recovery line:\n${second.output}`);
  assert.equal(stalled[0].previous_state, "active");
  const started = mine(/^job started$/).at(-1);
  assert.ok(started, second.output);
  assert.equal(started.attempt, job.attempts, "the log's attempt is the API's attempts");
  assert.ok(started.recovered_from_stalled >= 1, JSON.stringify(started));
  const files = (await p.outputFiles()).filter((f) => f.startsWith(res.body.id));
  assert.deepEqual(files, finishedOutputs([res.body.id]));
  assert.equal((await p.outputFiles()).filter((f) => f.endsWith(".part")).length, 0, "no partial files left");
});

test("jobs survive a SIGKILL of Redis (AOF) and a restart of the API", async () => {
  await p.workers.get("tiny")?.stop();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await p.request("POST", "/v1/jobs", { model: "tiny", prompt: `survivor ${i}`, width: 64, height: 64, num_frames: 5, steps: 2, seed: i });
    assert.equal(r.status, 202);
    ids.push(r.body.id);
  }
  await p.redis.kill("SIGKILL");
  const down = await p.request("GET", `/v1/jobs/${ids[0]}`);
  assert.equal(down.status, 503, "Redis away: a clear 503, not a hang");
  assert.equal(down.body.error.code, "service_unavailable");

  await p.redis.restart();
  await p.api.stop();
  await p.startApi();
  for (const id of ids) assert.equal((await p.request("GET", `/v1/jobs/${id}`)).body.status, "queued");

  await p.startWorker("tiny");
  for (const id of ids) assert.equal((await p.waitForTerminal(id)).status, "completed");
});

test("Redis killed while a job runs: the job still completes once Redis is back", async () => {
  await p.ensureWorker("tiny");
  const res = await p.request("POST", "/v1/jobs", { ...longJob, steps: 150, seed: 12 });
  await p.waitForJob(res.body.id, (j) => j.status === "running" && j.progress.step >= 3);
  await p.redis.kill("SIGKILL");
  await new Promise((r) => setTimeout(r, 1500));
  await p.redis.restart();
  const job = await p.waitForTerminal(res.body.id, 180000);
  assert.equal(job.status, "completed", JSON.stringify(job.error));
  assert.deepEqual((await p.outputFiles()).filter((f) => f.startsWith(res.body.id)), finishedOutputs([res.body.id]));
});
