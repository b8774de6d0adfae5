import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { waitFor } from "@videosdgx/shared/testing";
import { generateTinyModel } from "@videosdgx/workers/tiny";
import { Platform } from "./platform.js";

/**
 * Environment failures (outputs folder, ffmpeg) leave jobs queued with the reason shown, and they run once
 * the environment is fixed. JOB_ATTEMPTS=1: a job that spent an attempt on a broken host would fail for good.
 */
let p: Platform;
before(async () => {
  p = await Platform.start({ extraTinyModels: ["tinyb", "tinyc", "tinyd"], env: { JOB_ATTEMPTS: "1" } });
});
after(() => p?.stop());

const small = (model: string, seed = 1) => ({ model, prompt: "an environment test", width: 64, height: 64, num_frames: 5, steps: 2, seed });
const ffmpegBinary = execFileSync("sh", ["-c", "command -v ffmpeg"], { encoding: "utf8" }).trim();

async function readyz(): Promise<{ status: number; body: any }> {
  return p.request("GET", "/readyz");
}

/** /readyz once a worker of `model` has reported an environment problem in its heartbeat. */
function readyzWithProblemOf(model: string): Promise<{ status: number; body: any; problem: any }> {
  return waitFor(`a worker of ${model} to report its environment`, async () => {
    const r = await readyz();
    const problem = r.body.environment_problems?.find((x: { model: string }) => x.model === model);
    return problem ? { ...r, problem } : undefined;
  }, 20000);
}

/** Submits a job and checks it waits, queued, for the given reason, with no attempt spent. */
async function expectWaiting(model: string, code: string): Promise<string> {
  const res = await p.request("POST", "/v1/jobs", small(model));
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const job = await p.waitForJob(res.body.id, (j) => j.progress.phase === "waiting_for_environment");
  assert.equal(job.status, "queued");
  assert.equal(job.progress.environment.code, code);
  assert.equal(job.attempts, 0, "no attempt is started on a broken host");
  // Still waiting after the worker's next rechecks (its heartbeat carries each one).
  for (let i = 0; i < 3; i++) {
    const again = await p.waitForJob(res.body.id, () => true);
    assert.deepEqual([again.status, again.attempts, again.progress.phase], ["queued", 0, "waiting_for_environment"]);
    await new Promise((r) => setTimeout(r, 1000));
  }
  return res.body.id as string;
}

test("an unwritable OUTPUTS_DIR keeps jobs queued with the reason, and they run once it is fixed", async () => {
  // Root ignores permission bits: a regular file where the folder should be stops every write.
  await rm(p.outputsDir, { recursive: true, force: true });
  await writeFile(p.outputsDir, "not a folder");
  await p.startWorker("tiny");

  const ready = await readyzWithProblemOf("tiny");
  assert.equal(ready.status, 503);
  assert.equal(ready.problem.code, "outputs_not_writable");
  assert.match(ready.body.reasons.join("\n"), /takes no jobs: OUTPUTS_DIR .* cannot be written/);
  const model = (await p.request("GET", "/v1/models/tiny")).body;
  assert.equal(model.environment.code, "outputs_not_writable");
  assert.equal(model.workers[0].environment.code, "outputs_not_writable");

  const id = await expectWaiting("tiny", "outputs_not_writable");
  await rm(p.outputsDir);
  await mkdir(p.outputsDir);
  const done = await p.waitForTerminal(id, 60000);
  assert.equal(done.status, "completed", JSON.stringify(done.error));
  assert.equal(done.attempts, 1);
  await waitFor("/readyz to be ready again", async () => (await readyz()).status === 200, 20000);
  assert.equal((await p.request("GET", "/v1/models/tiny")).body.environment, undefined);
});

test("a missing ffmpeg keeps jobs queued, and one installed later is found without a restart", async () => {
  const bin = path.join(p.dataDir, "bin-without-ffmpeg");
  await mkdir(bin, { recursive: true });
  await p.startWorker("tinyb", { env: { PATH: bin, FFMPEG_PATH: "" } });
  const { status, problem } = await readyzWithProblemOf("tinyb");
  assert.equal(status, 503);
  assert.equal(problem.code, "ffmpeg_missing");
  assert.match(problem.message, /no ffmpeg on PATH/);

  const id = await expectWaiting("tinyb", "ffmpeg_missing");
  await symlink(ffmpegBinary, path.join(bin, "ffmpeg"));
  const done = await p.waitForTerminal(id, 60000);
  assert.equal(done.status, "completed", JSON.stringify(done.error));
  assert.equal(done.attempts, 1);
  await p.workers.get("tinyb")!.stop();
});

test("a folder broken during a job sends it back to the queue instead of failing it", async () => {
  await p.ensureWorker("tiny");
  // Long enough to break the folder while it denoises: the encode that follows cannot write.
  const res = await p.request("POST", "/v1/jobs", { ...small("tiny", 5), width: 256, height: 256, num_frames: 33, steps: 400 });
  assert.equal(res.status, 202);
  await p.waitForJob(res.body.id, (j) => j.progress.phase === "denoising");
  await rm(p.outputsDir, { recursive: true, force: true });
  await writeFile(p.outputsDir, "not a folder");
  // The worker records the phase just before it hands the job back: wait for the job to leave running.
  const waiting = await p.waitForJob(res.body.id, (j) => j.status !== "running", 120000);
  assert.equal(waiting.status, "queued", JSON.stringify(waiting.error));
  assert.equal(waiting.progress.environment.code, "outputs_not_writable");
  await rm(p.outputsDir);
  await mkdir(p.outputsDir);
  const done = await p.waitForTerminal(res.body.id, 120000);
  assert.equal(done.status, "completed", "the interrupted run was not counted as a failed attempt (JOB_ATTEMPTS=1)");
  assert.equal(done.attempts, 2, "attempts counts runs started: the interrupted one and the one that finished");
});

test("a full disk keeps jobs queued until there is room again", async (t) => {
  const disk = path.join(p.dataDir, "small-disk");
  await mkdir(disk, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", disk], { stdio: "ignore" });
  } catch {
    t.skip("mounting a tmpfs is not permitted here");
    return;
  }
  t.after(async () => {
    await p.workers.get("tinyd")?.stop();
    execFileSync("umount", [disk]);
  });
  const filler = path.join(disk, "filler");
  // Filled to the last byte: the worker's probe write itself gets ENOSPC.
  await writeFile(filler, Buffer.alloc(32 * 1024 * 1024)).catch((err: NodeJS.ErrnoException) => assert.equal(err.code, "ENOSPC"));
  await p.startWorker("tinyd", { env: { OUTPUTS_DIR: disk, OUTPUTS_MIN_FREE_BYTES: String(8 * 1024 * 1024) } });
  assert.match((await readyzWithProblemOf("tinyd")).problem.message, /is full \(ENOSPC\)/);
  const id = await expectWaiting("tinyd", "disk_full");
  // Some room, but less than OUTPUTS_MIN_FREE_BYTES: still waiting, now for that reason.
  await writeFile(filler, Buffer.alloc(12 * 1024 * 1024));
  const short = await p.waitForJob(id, (j) => /less than the 0\.01 GB a job needs/.test(j.progress.environment?.message ?? ""));
  assert.deepEqual([short.status, short.attempts], ["queued", 0]);
  await rm(filler);
  const done = await p.waitForTerminal(id, 60000);
  assert.equal(done.status, "completed", JSON.stringify(done.error));
  assert.equal(done.attempts, 1);
});

test("a failed job can be retried: it is queued again and completes", async () => {
  await p.makeUnloadable("tinyc");
  await p.startWorker("tinyc");
  const res = await p.request("POST", "/v1/jobs", small("tinyc"));
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const failed = await p.waitForTerminal(res.body.id);
  assert.equal(failed.status, "failed");
  assert.equal(failed.error.code, "model_load_failed");

  await generateTinyModel(path.join(p.dataDir, "models/tinyc"), { name: "tinyc" });
  const retried = await p.request("POST", `/v1/jobs/${res.body.id}/retry`);
  assert.equal(retried.status, 202, JSON.stringify(retried.body));
  // Queued again; the idle tinyc worker may already have taken it by the time the answer is read.
  assert.ok(["queued", "running"].includes(retried.body.status), retried.body.status);
  assert.equal(retried.body.error, undefined);
  const done = await p.waitForTerminal(res.body.id);
  assert.equal(done.status, "completed", JSON.stringify(done.error));

  const again = await p.request("POST", `/v1/jobs/${res.body.id}/retry`);
  assert.equal(again.status, 409);
  assert.equal(again.body.error.code, "conflict");
  assert.match(again.body.error.message, /is completed; only a failed or cancelled job can be retried/);
  const missing = await p.request("POST", "/v1/jobs/tinyc-00000000-0000-0000-0000-000000000000/retry");
  assert.equal(missing.status, 404);
});
