import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { CliExitCode } from "@videosdgx/shared";
import { freePort, makeTempDir, testEnv, waitFor } from "@videosdgx/shared/testing";
import { probeVideo } from "@videosdgx/workers/video";
import { CLI_MAIN } from "../entry-points.js";
import { Platform } from "./platform.js";

/*
 * `npx videosdgx generate|jobs|models` as a user runs it: a real CLI process against a real API, worker
 * and Redis, over HTTP only. Its stdout and stderr are pipes, so it sees no terminal (no bar, no question).
 */

let p: Platform;
let work: Awaited<ReturnType<typeof makeTempDir>>;
before(async () => {
  p = await Platform.start();
  await p.startWorker("tiny");
  work = await makeTempDir("vdgx-cli");
});
after(async () => {
  await p?.stop();
  await work?.remove();
});

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** The CLI as a process in the test's own folder, its environment from scratch, pointed at this platform. */
function start(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd: work.dir, env: testEnv({ VIDEOSDGX_URL: p.base, ...env }), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (err += b.toString()));
  // "close", not "exit": all of its output has been read by then.
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once("close", (code) => resolve({ code, stdout: out, stderr: err })));
  return { child, stdout: () => out, stderr: () => err, done };
}
const run = (args: string[], env?: Record<string, string>) => start(args, env).done;
const jsonLines = (stdout: string) => stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
const sha256 = async (file: string) => createHash("sha256").update(await readFile(file)).digest("hex");
const JOB_ID = /^tiny-[0-9a-f-]{36}$/;
/** Seconds of sampling even on a fast machine: still running after a CLI, an API restart or a Ctrl-C got there. */
const LONG_STEPS = 1000;
const LONG = ["--model", "tiny", "--size", "512x512", "--frames", "65", "--steps", String(LONG_STEPS)];

let firstJob: { id: string; file: string };

test("generate: submits, follows, saves the MP4 it was asked for (ffprobe: h264, size, frames, duration)", async () => {
  const file = path.join(work.dir, "cat.mp4");
  const r = await run(["generate", "a cat walking on a beach", "--model", "tiny", "--seconds", "2", "--size", "256x256", "--seed", "42", "--steps", "4", "-o", "cat.mp4"]);
  assert.equal(r.code, 0, r.stderr);
  const id = /job (tiny-[0-9a-f-]{36}) took/.exec(r.stdout)?.[1];
  assert.ok(id, r.stdout);
  assert.match(r.stdout, new RegExp(`^saved ${file.replaceAll(".", "\\.")}: 256x256, \\d+ frames at 16 fps`));
  // Without a terminal, progress is one line per state: the queue or phases it went through.
  assert.match(r.stderr, new RegExp(`job ${id} submitted \\(256x256, \\d+ frames, 4 steps, seed 42\\): queued`));
  assert.match(r.stderr, /denoising/);

  const job = (await p.request("GET", `/v1/jobs/${id}`)).body;
  assert.equal(job.status, "completed");
  assert.equal(job.params.seed, 42);
  const info = await probeVideo(file);
  assert.deepEqual({ codec: info.codec, w: info.width, h: info.height, frames: info.frames, fps: info.fps }, { codec: "h264", w: 256, h: 256, frames: job.params.num_frames, fps: 16 });
  assert.ok(Math.abs(info.durationS - 2) <= 2 / 16, `about 2 s: ${info.durationS}`);
  assert.equal(await sha256(file), job.result.sha256);
  assert.deepEqual((await readdir(work.dir)).filter((f) => f.endsWith(".part")), [], "no partial file left");
  firstJob = { id, file };
});

test("generate --json: JSON lines, submitted first, progress with steps and an ETA, the result last", async () => {
  const r = await run(["generate", "json lines", "--model", "tiny", "--frames", "17", "--size", "256x256", "--steps", "30", "--seed", "5", "-o", "json.mp4", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  assert.equal(lines[0]!.event, "submitted");
  assert.match(lines[0]!.id, JOB_ID);
  const steps = lines.filter((l) => l.event === "progress" && l.progress.phase === "denoising").map((l) => l.progress.step as number);
  assert.ok(steps.length >= 2 && steps.every((s, i) => i === 0 || s > steps[i - 1]!), `steps in order: ${steps.join(",")}`);
  assert.ok(lines.some((l) => typeof l.eta_s === "number" && l.progress.step_ms > 0), "an ETA from the worker's step time");
  const last = lines.at(-1)!;
  assert.deepEqual({ event: last.event, status: last.status, id: last.id, frames: last.num_frames, w: last.width }, { event: "result", status: "completed", id: lines[0]!.id, frames: 17, w: 256 });
  assert.equal(last.file, path.join(work.dir, "json.mp4"));
  assert.equal(await sha256(last.file), last.sha256);
  assert.equal((await probeVideo(last.file)).frames, 17);
});

test("generate behind another job: queued with its position, then running to the end", async () => {
  const busy = (await run(["generate", "ahead", ...LONG, "--no-wait"])).stdout.trim();
  await p.waitForJob(busy, (j) => j.status === "running");
  const cli = start(["generate", "behind", "--model", "tiny", "--frames", "9", "--size", "64x64", "--steps", "4", "-o", "behind.mp4", "--json"]);
  // Its event stream's own state (not the submission's answer) says queued: the stream is open before the
  // job ahead is cancelled, however slowly the CLI got there.
  const streamSaysQueued = () => cli.stdout().split("\n").some((l) => l.includes('"event":"state"') && l.includes('"status":"queued"'));
  await waitFor(`the CLI's stream to see its job queued\n${cli.stdout()}`, streamSaysQueued, 30000);
  await p.request("DELETE", `/v1/jobs/${busy}`);
  const r = await cli.done;
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  // Next in line behind the running job; a queued job between states (e.g. delayed) has no position.
  assert.deepEqual({ event: lines[0]!.event, status: lines[0]!.status, position: lines[0]!.queue_position }, { event: "submitted", status: "queued", position: 0 });
  assert.ok(lines.filter((l) => l.queue_position !== undefined).every((l) => l.queue_position === 0 && l.status === "queued"), r.stdout);
  assert.ok(lines.findIndex((l) => l.status === "running") > 1, "queued, then running");
  assert.equal(lines.at(-1)!.status, "completed");
  assert.equal((await p.waitForTerminal(busy)).status, "cancelled");
});

test("generate outlives an API restart: the stream is reopened with Last-Event-ID, no step missed or repeated", async () => {
  // Long enough to be still running when the API is stopped, on a fast machine too (a job that ended
  // first would have the CLI downloading from a stopped API).
  const cli = start(["generate", "through a restart", ...LONG, "-o", "restart.mp4", "--json"]);
  await waitFor(`denoising steps\n${cli.stdout()}`, () => /"phase":"denoising","step":[3-9]/.test(cli.stdout()), 60000);
  await p.api.stop();
  await p.startApi();
  const r = await cli.done;
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const steps = lines.filter((l) => l.event === "progress" && l.progress.phase === "denoising").map((l) => l.progress.step as number);
  const ids = lines.filter((l) => l.event_id).map((l) => l.event_id as string);
  assert.equal(new Set(ids).size, ids.length, "no event twice");
  assert.ok(steps.length >= 100 && steps.every((s, i) => i === 0 || s === steps[i - 1]! + 1), `one step at a time: ${steps.join(",")}`);
  assert.equal(steps.at(-1), LONG_STEPS);
  assert.equal(lines.at(-1)!.status, "completed");
  assert.equal((await probeVideo(lines.at(-1)!.file)).frames, 65);
});

test("generate --no-wait prints only the id of a job that exists", async () => {
  const r = await run(["generate", "later", "--model", "tiny", "--frames", "5", "--size", "32x32", "--steps", "2", "--no-wait"]);
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.match(id, JOB_ID);
  assert.equal((await p.request("GET", `/v1/jobs/${id}`)).status, 200);
  assert.equal((await p.waitForTerminal(id)).status, "completed");
});

test("a request the API refuses: its code and message, exit 2; a bad option is refused before any request", async () => {
  const bad = await run(["generate", "x", "--model", "nope"]);
  assert.equal(bad.code, CliExitCode.usage);
  assert.match(bad.stderr, /^videosdgx: [a-z_]+: .*nope/m);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");

  const json = await run(["generate", "x", "--model", "tiny", "--size", "250x250", "--json"]);
  assert.equal(json.code, CliExitCode.usage);
  const error = jsonLines(json.stdout).at(-1)!.error;
  assert.equal(error.code, "invalid_parameters");
  assert.match(error.message, /width must be a multiple of 16 .*\(nearest valid: width 240 or 256; height 240 or 256\)$/);

  const option = await run(["generate", "x", "--model", "tiny", "--size", "big"]);
  assert.equal(option.code, CliExitCode.usage);
  assert.match(option.stderr, /--size.*must look like "256x256"/);
});

test("an unreachable API: what was tried and what to do, exit 3; --url wins over VIDEOSDGX_URL", async () => {
  const port = await freePort();
  for (const args of [["generate", "x", "--model", "tiny"], ["jobs"], ["models"]]) {
    const r = await run(["--url", `http://127.0.0.1:${port}`, ...args]);
    assert.equal(r.code, CliExitCode.network, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`videosdgx: cannot reach the API at http://127.0.0.1:${port} \\(ECONNREFUSED\\): start it`));
  }
  const badUrl = await run(["jobs"], { VIDEOSDGX_URL: "ftp://nowhere" });
  assert.equal(badUrl.code, CliExitCode.usage);
  assert.match(badUrl.stderr, /--url \/ VIDEOSDGX_URL="ftp:\/\/nowhere"/);
});

test("jobs lists the job (paged with --before), jobs show prints it, jobs download gives the same MP4", async () => {
  const listed = await run(["jobs", "--model", "tiny", "--limit", "50"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`^${firstJob.id}  completed  .*  256x256x\\d+  "a cat walking on a beach"$`, "m"));

  const page1 = JSON.parse((await run(["jobs", "--limit", "1", "--json"])).stdout);
  assert.equal(page1.jobs.length, 1);
  assert.ok(page1.next_before, "more jobs than one");
  const page2 = JSON.parse((await run(["jobs", "--limit", "1", "--before", page1.next_before, "--json"])).stdout);
  assert.equal(page2.jobs.length, 1);
  assert.notEqual(page2.jobs[0].id, page1.jobs[0].id);
  assert.ok(page2.jobs[0].created_at <= page1.jobs[0].created_at, "older");
  const completed = JSON.parse((await run(["jobs", "--status", "completed", "--json", "--limit", "200"])).stdout);
  assert.ok(completed.jobs.length >= 3 && completed.jobs.every((j: any) => j.status === "completed"));

  const shown = await run(["jobs", "show", firstJob.id]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^status    completed$/m);
  assert.match(shown.stdout, /^prompt    a cat walking on a beach$/m);
  assert.match(shown.stdout, /^params    256x256, \d+ frames at 16 fps .* 4 steps, guidance 1.5, seed 42$/m);
  assert.match(shown.stdout, /^timings   .*denoise .*; total /m);

  const copy = path.join(work.dir, "again", "copy.mp4");
  const got = await run(["jobs", "download", firstJob.id, "-o", copy]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(await sha256(copy), await sha256(firstJob.file));
  assert.equal((await probeVideo(copy)).codec, "h264");

  const missing = await run(["jobs", "show", "tiny-00000000-0000-4000-8000-000000000000"]);
  assert.equal(missing.code, CliExitCode.notFound);
  assert.match(missing.stderr, /^videosdgx: not_found: /m);
});

test("jobs cancel stops a long job; a second cancel and a download of it are refused (exit 1)", async () => {
  const submitted = await run(["generate", "a long one", ...LONG, "--no-wait"]);
  const id = submitted.stdout.trim();
  await p.waitForJob(id, (j) => j.status === "running" && j.progress.phase === "denoising");
  const r = await run(["jobs", "cancel", id]);
  assert.equal(r.code, 0, r.stderr);
  // The reply is the job as it is just after the cancellation is written: a tiny step is short enough
  // for the worker to have stopped in between.
  assert.match(r.stdout, new RegExp(`cancellation of job ${id} recorded: it is (running and stops at its next step|cancelled)`));
  const job = await p.waitForTerminal(id);
  assert.equal(job.status, "cancelled");
  assert.ok(job.progress.step < LONG_STEPS);

  const again = await run(["jobs", "cancel", id]);
  assert.equal(again.code, CliExitCode.failed);
  assert.match(again.stderr, /^videosdgx: conflict: job .* has already finished/m);
  const download = await run(["jobs", "download", id]);
  assert.equal(download.code, CliExitCode.failed);
  assert.match(download.stderr, /is cancelled.*only a completed job has a video/);
});

test("Ctrl-C without a terminal: the job is left running, its id printed, exit 130", async () => {
  const cli = start(["generate", "interrupted", ...LONG]);
  await waitFor(`the CLI to follow the job's steps\n${cli.stderr()}`, () => /denoising/.test(cli.stderr()), 60000);
  const id = /job (tiny-[0-9a-f-]{36}) submitted/.exec(cli.stderr())![1]!;
  cli.child.kill("SIGINT");
  const r = await cli.done;
  assert.equal(r.code, CliExitCode.interrupted, r.stderr);
  assert.equal(r.stdout.trim().split("\n").at(-1), id);
  assert.match(r.stderr, new RegExp(`interrupted: job ${id} is left running`));
  const job = (await p.request("GET", `/v1/jobs/${id}`)).body;
  assert.equal(job.status, "running", "not cancelled");
  await p.request("DELETE", `/v1/jobs/${id}`);
  assert.equal((await p.waitForTerminal(id)).status, "cancelled");
});

/**
 * `generate` of a long job on a pseudo-terminal made by script(1), fed by its stdin: "\x03" there is a real
 * Ctrl-C (SIGINT from the terminal's line discipline), and the question is read from the terminal like a
 * person's answer. Returns the job's id, the CLI's exit code and all it showed.
 */
async function ctrlCOnATerminal(answer: string): Promise<{ id: string; code: number | null; out: string }> {
  const command = [process.execPath, CLI_MAIN, "generate", "on a terminal", ...LONG].map((a) => `'${a}'`).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: work.dir, env: testEnv({ VIDEOSDGX_URL: p.base, TERM: "xterm" }), stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
  await waitFor(`the bar to show the steps and the time left\n${out}`, () => new RegExp(`\\d+/${LONG_STEPS} \\| denoising \\| ETA \\d`).test(out), 60000);
  const id = /job (tiny-[0-9a-f-]{36}) submitted/.exec(out)![1]!;
  child.stdin!.write("\x03");
  await waitFor(`the question\n${out}`, () => out.includes(`cancel job ${id}? [y/N]`), 10000);
  child.stdin!.write(answer);
  return { id, code: await closed, out };
}

test("Ctrl-C on a terminal asks whether to cancel; y cancels the job, exit 130", async () => {
  const { id, code, out } = await ctrlCOnATerminal("y\r");
  assert.equal(code, CliExitCode.interrupted, out);
  assert.match(out, new RegExp(`cancelled job ${id}`));
  assert.equal((await p.waitForTerminal(id)).status, "cancelled");
});

test("Ctrl-C on a terminal, answered with Enter: the job is left running, exit 130", async () => {
  const { id, code, out } = await ctrlCOnATerminal("\r");
  assert.equal(code, CliExitCode.interrupted, out);
  assert.match(out, new RegExp(`interrupted: job ${id} is left running`));
  assert.equal((await p.request("GET", `/v1/jobs/${id}`)).body.status, "running");
  await p.request("DELETE", `/v1/jobs/${id}`);
  assert.equal((await p.waitForTerminal(id)).status, "cancelled");
});

test("a job cancelled while generate follows it: the job's error, exit 1", async () => {
  const cli = start(["generate", "cancelled elsewhere", ...LONG]);
  await waitFor(`the CLI to follow the job's steps\n${cli.stderr()}`, () => /denoising/.test(cli.stderr()), 60000);
  const id = /job (tiny-[0-9a-f-]{36}) submitted/.exec(cli.stderr())![1]!;
  await p.request("DELETE", `/v1/jobs/${id}`);
  const r = await cli.done;
  assert.equal(r.code, CliExitCode.failed, r.stderr);
  assert.match(r.stderr, new RegExp(`^videosdgx: job ${id} cancelled: cancelled: `, "m"));
  assert.equal(r.stdout, "", "no video, no path");
});

test("models: the API's view, installed or not and why", async () => {
  const r = await run(["models"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^tiny\s+installed/m);
  assert.match(r.stdout, /^waver\s+not installed/m);
  const json = JSON.parse((await run(["models", "--json"])).stdout);
  const waver = json.models.find((m: any) => m.name === "waver");
  assert.equal(waver.installed, false);
  assert.ok(waver.reason);
});

// Last: once a key exists the platform needs one for good.
test("with keys: no key is exit 4 with the API's message; --key or VIDEOSDGX_API_KEY is sent; keys lists it", async () => {
  const created = await run(["keys", "create", "--scope", "jobs:read", "--name", "cli", "--json"], { REDIS_URL: p.redis.url, QUEUE_PREFIX: "e2e" });
  assert.equal(created.code, 0, created.stderr);
  const key = JSON.parse(created.stdout);
  const none = await run(["jobs"]);
  assert.equal(none.code, CliExitCode.denied);
  assert.match(none.stderr, /^videosdgx: unauthorized: .*\(no key was sent: give --key or set VIDEOSDGX_API_KEY\)/m);
  assert.equal((await run(["--key", key.key, "jobs"])).code, 0);
  assert.equal((await run(["jobs"], { VIDEOSDGX_API_KEY: key.key })).code, 0);
  const write = await run(["generate", "x", "--model", "tiny"], { VIDEOSDGX_API_KEY: key.key });
  assert.equal(write.code, CliExitCode.denied);
  assert.match(write.stderr, /^videosdgx: forbidden: .*jobs:write/m);
  const listed = await run(["keys", "list"], { REDIS_URL: p.redis.url, QUEUE_PREFIX: "e2e" });
  assert.match(listed.stdout, new RegExp(`^${key.id}  active  jobs:read  `, "m"));
});
