import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { waitFor, type ManagedProcess } from "@videosdgx/shared/testing";
import { Platform } from "./platform.js";

const MB = 1_000_000;
const GB = 1_000_000_000;
// Every transformer run of tinyo allocates this much per latent frame (4 output frames), as activations do.
const SCRATCH_PER_FRAME = 256 * MB;
// The worker runs under an address-space limit (RLIMIT_AS): ONNX Runtime's allocator really fails past it,
// without the host ever running short (this machine is shared: a host-wide out-of-memory is not an option).
const HARD_LIMIT = 6 * GB;

let p: Platform;
let worker: ManagedProcess;
let idle: ManagedProcess;
before(async () => {
  p = await Platform.start({
    env: { JOB_ATTEMPTS: "3", JOB_BACKOFF_MS: "5000", MEMORY_BUDGET_BYTES: String(8 * GB) },
    extraTinyModels: [{ name: "tinyo", scratchBytesPerFrame: SCRATCH_PER_FRAME }, "tinyi"],
  });
  worker = await p.startWorker("tinyo", { launcher: ["prlimit", `--as=${HARD_LIMIT}:${HARD_LIMIT}`] });
  idle = await p.startWorker("tinyi", { env: { IDLE_UNLOAD_SECONDS: "0" } });
});
after(() => p?.stop());

/** A tinyo job whose video has this many latent frames (4 video frames each, plus the first). */
const submit = async (latentFrames: number) =>
  (await p.request("POST", "/v1/jobs", { model: "tinyo", prompt: "hungry", width: 64, height: 64, steps: 2, seed: 1, num_frames: 4 * (latentFrames - 1) + 1 })).body.id as string;
const vmSize = async (pid: number) => Number(/VmSize:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
const setSoftLimit = (bytes: number) => promisify(execFile)("prlimit", [`--pid=${worker.pid}`, `--as=${bytes}:${HARD_LIMIT}`]);
const loaded = async (model: string) => (await p.request("GET", `/v1/models/${model}`)).body.loaded as boolean;

test("a request that can never fit fails with out_of_memory after every attempt, each a real allocation failure", async () => {
  const id = await submit(33); // 33 x 256 MB: more than the whole address space the worker may have
  const job = await p.waitForTerminal(id, 120000);
  assert.equal(job.status, "failed");
  assert.equal(job.error.code, "out_of_memory");
  assert.match(job.error.message, /^out of memory: could not allocate 8\.45 GB more: .*Failed to allocate memory for requested buffer of size 8448000000/);
  assert.match(job.error.message, /\(released tinyo's sessions\)$/, "no retry follows, so nobody else is asked to unload");
  assert.equal(job.attempts, 3, "retried up to JOB_ATTEMPTS");
  const failures = worker.output.split("\n").filter((l) => l.includes(id) && l.includes('"msg":"job failed"'));
  assert.equal(failures.length, 3);
  for (const line of failures) assert.match(line, /"code":"out_of_memory","reason":"out of memory: .*Failed to allocate memory for requested buffer/);
  assert.equal(worker.child.exitCode, null, "an allocation failure leaves the worker serving");
});

test("an out-of-memory is retried after idle models are asked to unload, and completes once memory allows", async () => {
  assert.equal((await p.request("POST", "/v1/models/tinyi/load")).status, 202);
  await waitFor("tinyi to be loaded", () => loaded("tinyi"));
  const warm = await p.waitForTerminal(await submit(2));
  assert.equal(warm.status, "completed", JSON.stringify(warm.error));

  // Leave the worker less room than 5 latent frames need (1.28 GB), then ask for them.
  const size = await vmSize(worker.pid);
  assert.ok(HARD_LIMIT - size > 2 * GB, `the worker's sessions started afresh after the out-of-memory: it spans ${size} bytes`);
  await setSoftLimit(size + 256 * MB);
  const id = await submit(5);
  const retrying = await p.waitForJob(id, (j) => j.last_error !== undefined, 60000);
  assert.equal(retrying.attempts, 1);
  assert.equal(retrying.last_error.code, "out_of_memory");
  assert.match(retrying.last_error.message, /^out of memory: could not allocate [\d.]+ GB more: .*Failed to allocate memory for requested buffer of size \d+/);
  assert.match(retrying.last_error.message, /\(before the retry: released tinyo's sessions; asked idle tinyi to unload\)$/);
  assert.notEqual(retrying.status, "completed");

  // Memory allows again: the retry has the room (and the idle model is gone from the host).
  await setSoftLimit(HARD_LIMIT);
  const done = await p.waitForTerminal(id, 120000);
  assert.equal(done.status, "completed", JSON.stringify(done.error));
  assert.ok(done.attempts >= 2 && done.attempts <= 3, `completed on a retry: ${done.attempts}`);
  assert.equal(await loaded("tinyi"), false, "the idle model was unloaded");
  await idle.waitForOutput(/"msg":"model unloaded","model":"tinyi","reason":"memory needed by another model"/);
});

test("the worker's own dropped sessions can be what makes room: the retry completes under the same limit", async () => {
  // Fresh sessions whose arena grew only for a small request, as after a restart.
  assert.equal((await p.request("POST", "/v1/models/tinyo/unload")).status, 202);
  await waitFor("tinyo to be unloaded", async () => !(await loaded("tinyo")));
  const warm = await p.waitForTerminal(await submit(2));
  assert.equal(warm.status, "completed", JSON.stringify(warm.error));

  // 1 GB of room: not enough beside the arena the small request left (ONNX Runtime grows an arena by a new
  // region rather than reuse a smaller one), enough once that arena is gone.
  await setSoftLimit((await vmSize(worker.pid)) + GB);
  const id = await submit(5);
  const done = await p.waitForTerminal(id, 120000);
  assert.equal(done.status, "completed", JSON.stringify(done.error));
  assert.equal(done.attempts, 2, "the first attempt ran out of memory, the retry did not");
  const failed = worker.output.split("\n").filter((l) => l.includes(id) && l.includes('"msg":"job failed"'));
  assert.equal(failed.length, 1);
  assert.match(failed[0]!, /"code":"out_of_memory","reason":"out of memory: .*Failed to allocate memory.*\(before the retry: released tinyo's sessions; /);
});
