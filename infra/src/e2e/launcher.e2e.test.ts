import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { Redis } from "ioredis";
import { ExitCode } from "@videosdgx/shared";
import { ManagedProcess, TestRedis, freePort, makeTempDir, waitFor } from "@videosdgx/shared/testing";
import { killGroup, spawnLauncher } from "./launcher-process.js";
import { finishedOutputs } from "./platform.js";

/** A launcher that keeps running where it should have exited fails its test instead of hanging it. */
const LIMIT = { timeout: 240000 };

interface Stack {
  dir: string;
  port: number;
  redisPort: number;
  base: string;
  launchers: ManagedProcess[];
}

async function newStack(t: TestContext): Promise<Stack> {
  const { dir, remove } = await makeTempDir("vdgx-launcher");
  const stack: Stack = { dir, port: await freePort(), redisPort: await freePort(), base: "", launchers: [] };
  stack.base = `http://127.0.0.1:${stack.port}`;
  // The test's launchers first, then whatever they left running on this dir (ours only: the recorded pid).
  t.after(async () => {
    await Promise.all(stack.launchers.map(killGroup));
    const pid = await ownRedisPid(stack);
    if (pid !== undefined) process.kill(pid, "SIGKILL");
    await remove();
  });
  return stack;
}

function launch(s: Stack, env: Record<string, string> = {}): ManagedProcess {
  const launcher = spawnLauncher({ DATA_DIR: s.dir, PORT: String(s.port), OWN_REDIS_PORT: String(s.redisPort), LOG_LEVEL: "debug", ...env });
  s.launchers.push(launcher);
  return launcher;
}

/** The pid of the redis-server the launcher runs on this stack's data dir, from the record it keeps. */
async function ownRedisPid(s: Stack): Promise<number | undefined> {
  const record = await readFile(path.join(s.dir, "redis", "own-redis.json"), "utf8").catch(() => undefined);
  if (!record) return undefined;
  const { pid } = JSON.parse(record) as { pid: number };
  const alive = await readFile(`/proc/${pid}/comm`, "utf8").then((c) => c.startsWith("redis-server"), () => false);
  return alive ? pid : undefined;
}

const ready = (s: Stack) =>
  waitFor("the stack to be ready", () => fetch(`${s.base}/readyz`).then((r) => r.status === 200, () => false), 60000);

const smallJob = (seed: number) => ({ model: "tiny", prompt: `launcher job ${seed}`, width: 64, height: 64, num_frames: 5, steps: 2, seed });
/** Long enough to be caught running. */
const slowJob = (seed: number) => ({ model: "tiny", prompt: `slow job ${seed}`, width: 128, height: 128, num_frames: 17, steps: 80, seed });

async function submit(s: Stack, body: unknown): Promise<Response> {
  return fetch(`${s.base}/v1/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15000),
  });
}

async function job(s: Stack, id: string): Promise<{ status: string; result?: unknown }> {
  return (await (await fetch(`${s.base}/v1/jobs/${id}`)).json()) as { status: string };
}

const waitCompleted = (s: Stack, id: string) =>
  waitFor(`job ${id} to complete`, async () => ((await job(s, id)).status === "completed" ? true : undefined), 120000);

/** Holds a TCP port and drops every connection at once, like a server that is not Redis nor HTTP. */
async function holdPort(port: number): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return server;
}

test("kill -9 of the launcher's whole process group mid-job: the next start shuts the leftover Redis down cleanly and every accepted job completes once, with one video", LIMIT, async (t) => {
  const s = await newStack(t);
  const first = launch(s);
  await ready(s);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await submit(s, slowJob(i));
    assert.equal(res.status, 202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  await waitFor("a job to be running", async () => {
    for (const id of ids) if ((await job(s, id)).status === "running") return true;
    return undefined;
  }, 60000);
  const leftover = await ownRedisPid(s);
  assert.ok(leftover, "the launcher's redis-server is running");
  process.kill(-first.pid, "SIGKILL");
  await first.exited;
  assert.equal(await ownRedisPid(s), leftover, "Redis runs in its own session and outlives the launcher's group");

  const second = launch(s);
  await second.waitForOutput(/previous npm start still running on this data dir; shutting it down cleanly/);
  await second.waitForOutput(/previous redis-server stopped/);
  assert.doesNotMatch(second.output, /sending it SIGTERM/, "stopped with SHUTDOWN on its recorded port");
  for (const id of ids) await waitCompleted(s, id);
  assert.notEqual(await ownRedisPid(s), leftover, "a fresh redis-server serves the data dir");

  const files = (await readdir(path.join(s.dir, "outputs"))).sort();
  assert.deepEqual(files, finishedOutputs(ids), "one video (and its poster) per job, no temp files");
  // Once: BullMQ's event stream has one `completed` per job, whichever worker ran it.
  const redis = new Redis(`redis://127.0.0.1:${s.redisPort}`);
  const events = await redis.xrange("vdgx:generate-tiny:events", "-", "+");
  redis.disconnect();
  const completed = events.map(([, fields]) => fields).filter((f) => f[f.indexOf("event") + 1] === "completed");
  const perJob = ids.map((id) => completed.filter((f) => f[f.indexOf("jobId") + 1] === id).length);
  assert.deepEqual(perJob, ids.map(() => 1));

  second.child.kill("SIGTERM");
  assert.equal((await second.exited).code, 0, second.output.slice(-3000));
  assert.equal(await ownRedisPid(s), undefined, "Redis stopped with the launcher");
});

test("a second npm start on a data dir in use is refused, and the first one's Redis is left alone", LIMIT, async (t) => {
  const s = await newStack(t);
  launch(s);
  await ready(s);
  const running = await ownRedisPid(s);
  const second = launch({ ...s, port: await freePort(), redisPort: await freePort() });
  const { code } = await second.exited;
  assert.equal(code, ExitCode.config);
  assert.match(second.output, /is in use by another running npm start/);
  assert.equal(await ownRedisPid(s), running);
  assert.equal((await fetch(`${s.base}/readyz`)).status, 200);
});

test("a PORT taken by another process is said in those words and the launcher exits non-zero", LIMIT, async (t) => {
  const s = await newStack(t);
  const holder = await holdPort(s.port);
  t.after(() => holder.close());
  const launcher = launch(s);
  const { code } = await launcher.exited;
  assert.equal(code, ExitCode.config, launcher.output.slice(-3000));
  assert.match(launcher.output, new RegExp(`port ${s.port} is already in use by another process`));
  assert.doesNotMatch(launcher.output, /api listening/);
  assert.equal(await ownRedisPid(s), undefined, "its Redis was stopped too");
});

test("an OWN_REDIS_PORT held by another Redis is said in those words, exit non-zero, and that Redis is not touched", LIMIT, async (t) => {
  const s = await newStack(t);
  const { dir, remove } = await makeTempDir("vdgx-foreign-redis");
  const foreign = await TestRedis.start(dir);
  t.after(async () => {
    await foreign.kill();
    await remove();
  });
  const launcher = launch({ ...s, redisPort: foreign.port });
  const { code } = await launcher.exited;
  assert.equal(code, ExitCode.config, launcher.output.slice(-3000));
  assert.match(launcher.output, new RegExp(`OWN_REDIS_PORT: port ${foreign.port} is already in use by another process`));
  assert.doesNotMatch(launcher.output, /redis started/);
  const client = new Redis(foreign.url);
  t.after(() => client.disconnect());
  assert.equal(await client.ping(), "PONG");
});

test("the launcher's Redis killed under a running stack is restarted: the API answers 503 meanwhile, then jobs run again", LIMIT, async (t) => {
  const s = await newStack(t);
  const launcher = launch(s);
  await ready(s);
  const before = await submit(s, smallJob(1));
  await waitCompleted(s, ((await before.json()) as { id: string }).id);

  const pid = await ownRedisPid(s);
  process.kill(pid!, "SIGKILL");
  // Hold its port so that the first restart fails and Redis stays away long enough to be observed.
  const holder = await waitFor("the Redis port to be free", () => holdPort(s.redisPort).catch(() => undefined), 5000, 10);
  await launcher.waitForOutput(/redis-server stopped; restarting it/);
  const refused = await submit(s, smallJob(2));
  assert.equal(refused.status, 503);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "service_unavailable");
  const readyz = await fetch(`${s.base}/readyz`, { signal: AbortSignal.timeout(15000) });
  assert.equal(readyz.status, 503);
  assert.equal(((await readyz.json()) as { redis: string }).redis, "unreachable");
  await launcher.waitForOutput(new RegExp(`port ${s.redisPort} is already in use by another process`));
  await new Promise((resolve) => holder.close(resolve));

  await launcher.waitForOutput(/redis-server restarted/, 60000);
  await ready(s);
  const after = await submit(s, smallJob(3));
  assert.equal(after.status, 202);
  await waitCompleted(s, ((await after.json()) as { id: string }).id);
  assert.equal(launcher.child.exitCode, null, "the launcher kept running");
});

test("a launcher that cannot keep its Redis running stops everything and exits non-zero", LIMIT, async (t) => {
  const s = await newStack(t);
  const launcher = launch(s, { OWN_REDIS_MAX_RESTARTS: "0", SHUTDOWN_GRACE_MS: "2000" });
  await ready(s);
  process.kill((await ownRedisPid(s))!, "SIGKILL");
  const { code } = await launcher.exited;
  assert.equal(code, 1, launcher.output.slice(-3000));
  assert.match(launcher.output, /redis-server keeps stopping; giving up/);
});
