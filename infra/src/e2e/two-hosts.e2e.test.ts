import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { ManagedProcess, TestRedis, freePort, makeTempDir, waitFor } from "@videosdgx/shared/testing";
import { generateTinyModel } from "@videosdgx/workers/tiny";
import { killGroup, spawnLauncher } from "./launcher-process.js";
import type { HttpAnswer } from "./platform.js";
import { assertRangeAnswers } from "./range-answers.js";
import { S3StandIn } from "./s3-stand-in.js";

/**
 * Two hosts on one machine: two launchers with their own HOST_ID, DATA_DIR and ports, one Redis, one S3
 * server. Each host's budget fits one loaded model (2 GB resident, 2.4 GB to load, 3 GB budget), so two
 * hosts holding one each is only possible with a ledger per host.
 */
const GB = 1024 ** 3;
const BUDGET = 3 * GB;
const MODEL = "tinyh";
/** A second model of the same size: it cannot load on a host while that host's MODEL runs a job (2 + 2.4 > 3 GB). */
const OTHER = "tinyi";
const LIMIT = { timeout: 300000 };

interface Host {
  id: string;
  dir: string;
  port: number;
  launcher?: ManagedProcess;
}

let redis: TestRedis;
let s3: S3StandIn;
let root: { dir: string; remove: () => Promise<void> };
const a: Host = { id: "host-a", dir: "", port: 0 };
const b: Host = { id: "host-b", dir: "", port: 0 };

before(async () => {
  root = await makeTempDir("vdgx-two-hosts");
  redis = await TestRedis.start(path.join(root.dir, "redis"));
  s3 = await S3StandIn.start(root.dir);
  for (const h of [a, b]) {
    h.dir = path.join(root.dir, h.id);
    h.port = await freePort();
    for (const name of [MODEL, OTHER]) await generateTinyModel(path.join(h.dir, "models", name), { name, residentBytes: 2 * GB, loadPeakFactor: 1.2 });
  }
});
after(async () => {
  await Promise.all([a, b].map((h) => (h.launcher ? killGroup(h.launcher) : undefined)));
  await redis?.kill("SIGTERM");
  await s3?.stop();
  await root?.remove();
});

function launch(h: Host, roles: string): ManagedProcess {
  h.launcher = spawnLauncher(
    {
      ...s3.env(), REDIS_URL: redis.url, HOST_ID: h.id, ROLES: roles, DATA_DIR: h.dir, PORT: String(h.port), QUEUE_PREFIX: "two",
      // Two GPU slots: a second job on a host waits for its memory, not for the GPU.
      WORKER_MODELS: `${MODEL},${OTHER}`, GPU_CONCURRENCY: "2",
      MEMORY_BUDGET_BYTES: String(BUDGET), LOCK_DURATION_MS: "3000", STALLED_INTERVAL_MS: "1000", LOG_LEVEL: "debug",
    },
    `start-${h.id}`,
  );
  return h.launcher;
}

async function request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const res = await fetch(`http://127.0.0.1:${a.port}${url}`, {
    method, headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (res.headers.get("content-type") ?? "").includes("json");
  return { status: res.status, headers: res.headers, body: json ? await res.json() : Buffer.from(await res.arrayBuffer()) };
}

const hosts = async (): Promise<any[]> => (await request("GET", "/v1/hosts")).body.hosts;
const job = async (id: string): Promise<any> => (await request("GET", `/v1/jobs/${id}`)).body;
const waitJob = (id: string, done: (j: any) => boolean, what: string) =>
  waitFor(`job ${id} ${what}`, async () => {
    const j = await job(id);
    return done(j) ? j : undefined;
  }, 240000, 200);

async function submit(seed: number, steps = 2, size = 64, model = MODEL, frames = 17): Promise<string> {
  const res = await request("POST", "/v1/jobs", { model, prompt: `two hosts ${seed}`, width: size, height: size, num_frames: frames, steps, seed });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.id as string;
}

/** Every file under `dir` whose name has the job's id. */
async function filesOf(dir: string, id: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((e) => e.includes(id));
}

test("host A (api, webhooks) takes a job that host B (workers) makes; the video is never on A's disk and downloads through A with Range", LIMIT, async () => {
  launch(a, "api,webhooks");
  launch(b, "workers");
  await waitFor("host A's API to be ready with host B's worker", () => fetch(`http://127.0.0.1:${a.port}/readyz`).then((r) => r.status === 200, () => false), 120000);
  assert.deepEqual((await hosts()).map((h) => h.host), ["host-b"], "host A runs no worker");

  const id = await submit(1);
  const done = await waitJob(id, (j) => ["completed", "failed"].includes(j.status), "to finish");
  assert.equal(done.status, "completed", JSON.stringify(done.error));
  assert.equal(done.result.host, "host-b");
  assert.deepEqual(await filesOf(a.dir, id), [], "nothing of the job on host A's disk");
  assert.deepEqual(await filesOf(path.join(b.dir, "outputs"), id), [], "nor left on host B's: it is in the bucket");

  const stored = await s3.object(`${id}.mp4`);
  const full = await request("GET", done.result.video_url);
  assert.equal(full.status, 200);
  assert.ok((full.body as Buffer).equals(stored));
  await assertRangeAnswers((range) => request("GET", done.result.video_url, undefined, { range }), stored);
});

/** Waits until one of `ids` runs on each host: the job id per host. */
const runningOnEach = (ids: string[]) =>
  waitFor("a job running on each host", async () => {
    const jobs = await Promise.all(ids.map(job));
    const on = new Map(jobs.filter((j) => j.status === "running" && j.progress.host).map((j) => [j.progress.host as string, j.id as string]));
    return on.size === 2 ? on : undefined;
  }, 120000, 200);

test("both hosts with workers: jobs run on both, B's video downloads through A with Range, each host's budget holds on its own; kill -9 of host B mid-job: the job completes on A", LIMIT, async () => {
  await killGroup(a.launcher!);
  launch(a, "api,webhooks,workers");
  await waitFor("both hosts' workers", async () => ((await hosts().catch(() => [])).length === 2 ? true : undefined), 120000);

  const running = await runningOnEach([await submit(2, 80, 128), await submit(3, 80, 128)]);
  assert.deepEqual([...running.keys()].sort(), ["host-a", "host-b"]);

  // Both hosts hold a 2 GB model under their own 3 GB budget: 4 GB in all, more than either budget.
  const view = await hosts();
  for (const h of view) {
    assert.equal(h.memory.budget_bytes, BUDGET, h.host);
    assert.ok(h.memory.reserved_bytes > 0 && h.memory.reserved_bytes <= BUDGET, `${h.host}: ${JSON.stringify(h.memory)}`);
  }
  assert.ok(view.reduce((sum, h) => sum + h.memory.reserved_bytes, 0) > BUDGET, "the hosts' reservations are not one ledger");

  // While host A runs workers too, a video host B made is served by A's API from the bucket, Range included.
  const madeOnB = await waitJob(running.get("host-b")!, (j) => ["completed", "failed"].includes(j.status), "to finish on host B");
  assert.equal(madeOnB.status, "completed", JSON.stringify(madeOnB.error));
  assert.equal(madeOnB.result.host, "host-b");
  assert.deepEqual(await filesOf(a.dir, madeOnB.id), [], "nothing of B's job on host A's disk");
  const stored = await s3.object(`${madeOnB.id}.mp4`);
  const full = await request("GET", madeOnB.result.video_url);
  assert.equal(full.status, 200);
  assert.ok((full.body as Buffer).equals(stored));
  await assertRangeAnswers((range) => request("GET", madeOnB.result.video_url, undefined, { range }), stored);
  const madeOnA = await waitJob(running.get("host-a")!, (j) => ["completed", "failed"].includes(j.status), "to finish on host A");
  assert.deepEqual([madeOnA.status, madeOnA.result?.host], ["completed", "host-a"], JSON.stringify(madeOnA.error));

  const again = await runningOnEach([await submit(4, 80, 128), await submit(5, 80, 128)]);
  // Host B's ledger as the API last shows it: a dead host's workers, and so the host, leave GET /v1/hosts.
  const lastOfB = (await hosts()).find((h) => h.host === "host-b")!;
  const onB = again.get("host-b")!;
  await killGroup(b.launcher!);
  const rescued = await waitJob(onB, (j) => ["completed", "failed"].includes(j.status), "to finish after host B died");
  assert.equal(rescued.status, "completed", JSON.stringify(rescued.error));
  assert.equal(rescued.result.host, "host-a", "made again by host A");
  const other = await waitJob(again.get("host-a")!, (j) => j.status === "completed", "to complete on host A");
  assert.equal(other.result.host, "host-a");
  assert.deepEqual((await s3.keys()).filter((k) => k.startsWith(onB)), [`${onB}.jpg`, `${onB}.mp4`], "one video and one poster for the job run twice");

  // Over the whole run, neither host's reservations ever went past its own budget (the ledger's high water).
  const lastOfA = (await hosts()).find((h) => h.host === "host-a")!;
  for (const h of [lastOfA, lastOfB]) {
    assert.ok(h.memory.high_water_bytes > 0 && h.memory.high_water_bytes <= BUDGET, `${h.host}: ${JSON.stringify(h.memory)}`);
  }
});

test("a job waiting for memory on each host: the metrics show each host's wait apart", LIMIT, async () => {
  // Host B's workers killed by the test before stay listed, and keep their memory lease, until they expire.
  const dead = new Set((await hosts()).flatMap((h) => h.workers.map((w: { id: string }) => w.id)).filter((id) => id.startsWith(`${b.id}-`)));
  launch(b, "workers");
  await waitFor("both models' workers on both hosts, and nothing held for host B's dead ones", async () => {
    const view = await hosts().catch(() => []);
    const live = (h: any) => h.workers.filter((w: { id: string }) => !dead.has(w.id)).map((w: { id: string }) => w.id);
    return view.length === 2 && view.every((h) => live(h).length === 2 && Object.keys(h.memory.reservations).every((id) => live(h).includes(id))) || undefined;
  }, 120000);
  // A long MODEL job on each host: the second is taken by the other host, as one worker per model runs one
  // job at a time. Then one OTHER job per host waits for that host's memory.
  const longJob = (seed: number) => submit(seed, 1000, 512, MODEL, 65);
  const first = await longJob(6);
  const onFirst = (await waitJob(first, (j) => j.progress.phase === "denoising", "denoising")).progress.host as string;
  const second = await longJob(7);
  const onSecond = (await waitJob(second, (j) => j.progress.phase === "denoising" || ["completed", "failed"].includes(j.status), "denoising")).progress.host;
  assert.equal((await job(first)).progress.phase, "denoising", "the first long job still runs (make it longer)");
  assert.deepEqual([onFirst, onSecond].sort(), ["host-a", "host-b"]);
  const others = await Promise.all([8, 9].map((seed) => submit(seed, 2, 64, OTHER)));
  const waits = await waitFor("a job waiting for memory on each host", async () => {
    const jobs = await Promise.all(others.map(job));
    const on = new Map(jobs.filter((j) => j.progress.phase === "waiting_for_memory").map((j) => [j.progress.memory.host as string, j.progress.memory]));
    return on.size === 2 ? on : undefined;
  }, 120000, 200);
  assert.deepEqual([...waits.keys()].sort(), ["host-a", "host-b"]);

  const metrics = await request("GET", "/metrics");
  const lines = (metrics.body as Buffer).toString().split("\n");
  const sample = (name: string, labels: string) => lines.find((l) => l.startsWith(`${name}{${labels}} `))?.split(" ")[1];
  for (const [host, memory] of waits) {
    assert.equal(sample("vdgx_jobs_waiting_for_memory", `host="${host}",model="${OTHER}"`), "1", `${host}\n${lines.filter((l) => l.includes("memory")).join("\n")}`);
    assert.equal(sample("vdgx_jobs_waiting_for_memory", `host="${host}",model="${MODEL}"`), "0", `${host}: its ${MODEL} job runs`);
    assert.equal(Number(sample("vdgx_memory_wait_bytes", `host="${host}",model="${OTHER}",kind="needed"`)), memory.needed_bytes, host);
    assert.ok(Number(sample("vdgx_memory_wait_bytes", `host="${host}",model="${OTHER}",kind="held_by_others"`)) > 0, `${host}: its ${MODEL} holds memory`);
    assert.ok(sample("vdgx_memory_wait_bytes", `host="${host}",model="${OTHER}",kind="available"`) !== undefined, host);
  }
  assert.equal(lines.filter((l) => l.startsWith("vdgx_jobs_waiting_for_memory{") && l.endsWith(" 1")).length, 2, "one wait per host, no series without a host");
});
