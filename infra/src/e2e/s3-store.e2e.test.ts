import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { posterFileOf, previewFileOf, queueName } from "@videosdgx/shared";
import { blockPattern, encodeTestImage, freePort, makeTempDir, spawnNode, testEnv, waitFor, type ManagedProcess } from "@videosdgx/shared/testing";
import { generateTinyMagiModel } from "@videosdgx/workers/tinymagi";
import { generateTinyWanI2vModel } from "@videosdgx/workers/tinywani2v";
import { API_MAIN, CLI_MAIN } from "../entry-points.js";
import { Platform, type HttpAnswer } from "./platform.js";
import { assertRangeAnswers } from "./range-answers.js";
import { S3StandIn } from "./s3-stand-in.js";

/**
 * OUTPUT_STORE=s3 against a real S3 protocol server (s3rver): videos and posters go to the bucket and
 * leave the worker's disk, downloads keep their Range answers, a store that is away holds jobs back
 * with the reason shown. JOB_ATTEMPTS=1: a job that spent an attempt on the missing store would fail.
 */
let p: Platform;
let s3: S3StandIn;
let removeS3Dir: () => Promise<void>;
before(async () => {
  const { dir, remove } = await makeTempDir("vdgx-s3");
  removeS3Dir = remove;
  s3 = await S3StandIn.start(dir);
  // tinyprev: a copy of tiny whose worker makes previews (the others make none, so their keys stay two).
  p = await Platform.start({
    env: { ...s3.env(), HOST_ID: "s3-host", JOB_ATTEMPTS: "1", OUTPUT_SWEEP_SECONDS: "1", LOCK_DURATION_MS: "3000", STALLED_INTERVAL_MS: "1000" },
    extraTinyModels: ["tinyprev"],
  });
  await generateTinyMagiModel(path.join(p.dataDir, "models", "tinymagi"));
  await generateTinyWanI2vModel(path.join(p.dataDir, "models", "tinywani2v"));
  await p.api.stop();
  await p.startApi();
  await p.startWorker("tiny");
});
after(async () => {
  await p?.stop();
  await s3?.stop();
  await removeS3Dir?.();
});

const small = (seed: number) => ({ model: "tiny", prompt: `an s3 job ${seed}`, width: 64, height: 64, num_frames: 5, steps: 2, seed });
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const jobKeys = async (id: string) => (await s3.keys()).filter((k) => k.startsWith(`${id}.`));

async function completed(body: object): Promise<any> {
  const res = await p.request("POST", "/v1/jobs", body);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const job = await p.waitForTerminal(res.body.id);
  assert.equal(job.status, "completed", JSON.stringify(job.error));
  return job;
}

test("a finished job's MP4 and poster are in the bucket (checked bytes), not on the worker's disk, and download with Range", async () => {
  const job = await completed(small(1));
  assert.deepEqual(await jobKeys(job.id), [`${job.id}.jpg`, `${job.id}.mp4`]);
  const stored = await s3.object(`${job.id}.mp4`);
  assert.equal(sha256(stored), job.result.sha256, "the bucket holds the bytes the worker made");
  assert.deepEqual((await p.outputFiles()).filter((f) => f.startsWith(job.id)), [], "nothing of the job is left in OUTPUTS_DIR");
  assert.equal(job.result.host, "s3-host", "the job says which host made it");

  const video = await p.request("GET", job.result.video_url);
  assert.deepEqual([video.status, video.headers.get("content-type"), video.headers.get("accept-ranges")], [200, "video/mp4", "bytes"]);
  assert.ok((video.body as Buffer).equals(stored));
  await assertRangeAnswers((range) => p.request("GET", job.result.video_url, undefined, { range }), stored);

  const poster = await p.request("GET", job.result.poster_url);
  assert.deepEqual([poster.status, poster.headers.get("content-type")], [200, "image/jpeg"]);
  assert.ok((poster.body as Buffer).equals(await s3.object(posterFileOf(`${job.id}.mp4`))));
});

test("an image-to-video job's image is kept in the bucket under inputs/, not on the API's disk, and the job reads it", { timeout: 120_000 }, async () => {
  await p.ensureWorker("tinywani2v");
  const png = await encodeTestImage(blockPattern(64, 64, 8), 64, 64, "png");
  const image = `data:image/png;base64,${png.toString("base64")}`;
  const job = await completed({ model: "tinywani2v", prompt: "an s3 image job", width: 64, height: 64, num_frames: 5, steps: 2, seed: 3, image });
  assert.ok((await s3.object(`inputs/${job.id}.png`)).equals(png), "the bucket holds the image's bytes");
  assert.equal(existsSync(path.join(p.outputsDir, "inputs", `${job.id}.png`)), false, "no copy in OUTPUTS_DIR/inputs");
  assert.deepEqual(await jobKeys(job.id), [`${job.id}.jpg`, `${job.id}.mp4`]);
});

/** A second API on the platform's Redis and store with S3_PRESIGN=1, for the length of `use` (its base URL). */
async function withPresigningApi(use: (base: string) => Promise<void>): Promise<void> {
  const port = await freePort();
  const api: ManagedProcess = spawnNode("api-presign", API_MAIN, { ...p.env, PORT: String(port), S3_PRESIGN: "1", S3_PRESIGN_SECONDS: "60" });
  try {
    await waitFor("the presigning API to reach Redis", () =>
      fetch(`http://127.0.0.1:${port}/readyz`).then(async (r) => ((await r.json()) as { redis: string }).redis === "ok", () => false), 20000);
    await use(`http://127.0.0.1:${port}`);
  } finally {
    await api.stop();
  }
}

test("S3_PRESIGN=1: the API redirects to a short-lived signed URL, which answers Range itself", async () => {
  const job = await completed(small(2));
  await withPresigningApi(async (base) => {
    const res = await fetch(`${base}${job.result.video_url}`, { redirect: "manual" });
    assert.equal(res.status, 307);
    const location = new URL(res.headers.get("location")!);
    assert.equal(location.origin, s3.endpoint);
    assert.equal(location.pathname, `/videos/${job.id}.mp4`, "path-style: the bucket is in the path");
    assert.ok(location.searchParams.get("X-Amz-Signature"), "signed");
    assert.equal(location.searchParams.get("X-Amz-Expires"), "60");
    const part = await fetch(location, { headers: { range: "bytes=10-109" } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals((await s3.object(`${job.id}.mp4`)).subarray(10, 110)));
  });
});

const isJpeg = (b: Buffer) => b.length > 4 && b[0] === 0xff && b[1] === 0xd8 && b.at(-2) === 0xff && b.at(-1) === 0xd9;

test("previews made on another disk are served from the store while the job runs and after it, presigned too", { timeout: 180_000 }, async () => {
  // The worker writes into its own OUTPUTS_DIR, as one on host B would: nothing it makes is on the API's disk.
  const { dir: hostB, remove } = await makeTempDir("vdgx-s3-host-b");
  try {
    await p.startWorker("tinyprev", { env: { PREVIEW_EVERY_STEPS: "1", OUTPUTS_DIR: hostB } });
    // Long enough (seconds of sampling, even on a loaded machine) to still be sampling after a preview is fetched.
    const res = await p.request("POST", "/v1/jobs", { model: "tinyprev", prompt: "an s3 preview job", width: 512, height: 512, num_frames: 121, steps: 1000, seed: 8 });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body.id as string;
    const seen = await p.waitForJob(id, (j) => j.status === "running" && j.progress.preview !== undefined);
    assert.equal(seen.progress.preview.url, `/v1/jobs/${id}/preview.jpg`);
    const during: HttpAnswer<Buffer> = await p.request("GET", seen.progress.preview.url);
    const still = await p.waitForJob(id, () => true);
    assert.equal(still.status, "running", "the preview was served while the job ran");
    assert.deepEqual([during.status, during.headers.get("content-type"), during.headers.get("cache-control")], [200, "image/jpeg", "no-store"]);
    assert.ok(isJpeg(during.body), "one whole JPEG");
    assert.equal(existsSync(path.join(p.outputsDir, previewFileOf(id))), false, "not on the API host's disk");

    const done = await p.waitForTerminal(id);
    assert.equal(done.status, "completed", JSON.stringify(done.error));
    assert.equal(done.progress.preview.step, 1000, "the last step's preview was announced");
    const stored = await s3.object(previewFileOf(id));
    const after: HttpAnswer<Buffer> = await p.request("GET", done.progress.preview.url);
    assert.deepEqual([after.status, after.headers.get("content-type")], [200, "image/jpeg"]);
    assert.ok(after.body.equals(stored), "the API serves the stored (last) preview");
    assert.deepEqual(await jobKeys(id), [`${id}.jpg`, `${id}.mp4`, previewFileOf(id)].sort(), "one preview object per job");
    assert.deepEqual((await readdir(hostB)).filter((f) => f.startsWith(id)), [], "nothing of the job is left on the worker's disk");
    assert.deepEqual((await p.outputFiles()).filter((f) => f.startsWith(id)), [], "nor on the API's");

    await withPresigningApi(async (base) => {
      const redirect = await fetch(`${base}${done.progress.preview.url}`, { redirect: "manual" });
      assert.equal(redirect.status, 307);
      const location = new URL(redirect.headers.get("location")!);
      assert.equal(location.pathname, `/videos/${previewFileOf(id)}`);
      assert.ok(Buffer.from(await (await fetch(location)).arrayBuffer()).equals(stored));
    });
  } finally {
    await p.workers.get("tinyprev")?.stop();
    await remove();
  }
});

test("previews the store fails are logged once and not announced, and the job goes on; it completes once the store is back", { timeout: 180_000 }, async () => {
  const worker = await p.startWorker("tinyprev", { env: { PREVIEW_EVERY_STEPS: "1" } });
  try {
    const res = await p.request("POST", "/v1/jobs", { model: "tinyprev", prompt: "a preview outage", width: 128, height: 128, num_frames: 5, steps: 1000, seed: 9 });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body.id as string;
    await p.waitForJob(id, (j) => j.status === "running" && j.progress.preview !== undefined);
    await s3.stop();
    try {
      await worker.waitForOutput(/previews cannot be stored/);
      const first = await p.waitForJob(id, () => true);
      await new Promise((r) => setTimeout(r, 1000));
      const later = await p.waitForJob(id, () => true);
      assert.notEqual(later.status, "failed", JSON.stringify(later.error));
      assert.equal(later.progress.preview?.step, first.progress.preview?.step, "no preview announced while the store is away");
      if (later.status === "running") assert.ok(later.progress.step > first.progress.step, "sampling goes on meanwhile");
      assert.equal(worker.output.match(/previews cannot be stored/g)!.length, 1, "one warning for the outage");
    } finally {
      await s3.restart();
    }
    const done = await p.waitForTerminal(id, 180_000);
    assert.equal(done.status, "completed", JSON.stringify(done.error));
    assert.equal(done.progress.preview.step, 1000);
    const served: HttpAnswer<Buffer> = await p.request("GET", done.progress.preview.url);
    assert.equal(served.status, 200);
    assert.ok(served.body.equals(await s3.object(previewFileOf(id))));
  } finally {
    await worker.stop();
  }
});

/** `videosdgx doctor --json` with the platform's environment (and `env` over it): its exit code and its output-store check. */
function doctorStore(env: NodeJS.ProcessEnv = {}): Promise<{ code: number; check: { status: string; detail: string; fix?: string } }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_MAIN, "doctor", "--json"], { env: testEnv({ ...p.env, ...env }) }, (err, stdout) => {
      const report = JSON.parse(stdout) as { checks: { check: string; status: string; detail: string; fix?: string }[] };
      resolve({ code: err ? Number(err.code) : 0, check: report.checks.find((c) => c.check === "output-store")! });
    });
  });
}

/** The host's environment problem with `code`, once GET /v1/hosts shows it. */
const hostProblem = (code: string) =>
  waitFor(`a host to report ${code}`, async () => {
    const r = await p.request("GET", "/v1/hosts");
    const host = r.body.hosts?.find((h: any) => h.environment_problems.some((x: any) => x.code === code));
    return host && { host: host.host as string, problem: host.environment_problems.find((x: any) => x.code === code) };
  }, 30000);

test("a store that is away holds jobs queued with the reason (job, /v1/hosts, /readyz, doctor); they complete once it is back", async () => {
  const earlier = await completed(small(6));
  const before = await doctorStore();
  assert.equal(before.check.status, "ok", before.check.detail);
  assert.match(before.check.detail, new RegExp(`S3 bucket videos at ${s3.endpoint} takes writes`));
  await s3.stop();
  try {
    const away = await doctorStore();
    assert.deepEqual([away.code, away.check.status], [1, "fail"], "a store that is away blocks a first video");
    assert.match(away.check.detail, /output store .* is unreachable.*\(store_unreachable\)/);
    assert.match(away.check.fix!, /S3_ENDPOINT/);
    const unreadable = await p.request("GET", earlier.result.video_url);
    assert.deepEqual([unreadable.status, unreadable.body.error?.code], [503, "service_unavailable"]);
    assert.match(unreadable.body.error.message, /output store .* cannot be read now/);

    const { host, problem } = await hostProblem("store_unreachable");
    assert.equal(host, "s3-host");
    assert.match(problem.message, /output store .* is unreachable/);
    const ready = await p.request("GET", "/readyz");
    assert.equal(ready.status, 503);
    assert.match(ready.body.reasons.join("\n"), /takes no jobs: the output store/);

    const res = await p.request("POST", "/v1/jobs", small(3));
    assert.equal(res.status, 202);
    const waiting = await p.waitForJob(res.body.id, (j) => j.progress.phase === "waiting_for_environment");
    assert.deepEqual([waiting.status, waiting.progress.environment.code], ["queued", "store_unreachable"]);
    await new Promise((r) => setTimeout(r, 2000));
    const still = await p.waitForJob(res.body.id, () => true);
    assert.deepEqual([still.status, still.progress.phase], ["queued", "waiting_for_environment"]);
    await s3.restart();
    // With JOB_ATTEMPTS=1, an attempt spent on the missing store would have failed the job for good.
    const done = await p.waitForTerminal(res.body.id);
    assert.equal(done.status, "completed", JSON.stringify(done.error));
    assert.equal(sha256(await s3.object(`${done.id}.mp4`)), done.result.sha256);
  } finally {
    await s3.restart();
  }
});

test("a store that refuses the worker holds jobs queued with the reason and its fix; with the right key they complete", async () => {
  // A wrong access key id is what s3rver refuses through the protocol (InvalidAccessKeyId, HTTP 403): it
  // does not verify SigV4 signatures, so a wrong secret would not be refused here as it is by a real S3.
  const wrong = { AWS_ACCESS_KEY_ID: "NOT-S3RVER" };
  const refusedByDoctor = await doctorStore(wrong);
  assert.deepEqual([refusedByDoctor.code, refusedByDoctor.check.status], [1, "fail"]);
  assert.match(refusedByDoctor.check.detail, /output store refuses writes to bucket videos .*InvalidAccessKeyId \(HTTP 403\).*\(store_refused\)/);
  assert.match(refusedByDoctor.check.fix!, /AWS_ACCESS_KEY_ID/);

  await p.workers.get("tiny")?.stop();
  const refused = await p.startWorker("tiny", { env: wrong });
  let id: string;
  try {
    const { host, problem } = await hostProblem("store_refused");
    assert.equal(host, "s3-host");
    assert.match(problem.message, /the output store refuses writes to bucket videos at .*InvalidAccessKeyId \(HTTP 403\)/);
    assert.match(problem.message, /check S3_BUCKET, S3_REGION and the credentials/, "the message names the fix");
    const ready = await p.request("GET", "/readyz");
    assert.equal(ready.status, 503);
    assert.match(ready.body.reasons.join("\n"), /on host s3-host takes no jobs: the output store refuses writes/);

    const res = await p.request("POST", "/v1/jobs", small(7));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    id = res.body.id;
    const waiting = await p.waitForJob(id, (j) => j.progress.phase === "waiting_for_environment");
    assert.deepEqual([waiting.status, waiting.attempts, waiting.progress.environment.code], ["queued", 0, "store_refused"]);
    assert.match(waiting.progress.environment.message, /check S3_BUCKET, S3_REGION and the credentials/);
    await new Promise((r) => setTimeout(r, 2000));
    const still = await p.waitForJob(id, () => true);
    assert.deepEqual([still.status, still.attempts, still.progress.phase], ["queued", 0, "waiting_for_environment"]);
  } finally {
    await refused.stop();
  }
  // The operator's fix: the worker restarted with the right key (the platform's settings).
  await p.startWorker("tiny");
  const done = await p.waitForTerminal(id);
  // With JOB_ATTEMPTS=1, an attempt spent on the refusing store would have failed the job for good.
  assert.deepEqual([done.status, done.attempts], ["completed", 1], JSON.stringify(done.error));
  assert.deepEqual(await jobKeys(id), [`${id}.jpg`, `${id}.mp4`]);
  assert.equal(sha256(await s3.object(`${id}.mp4`)), done.result.sha256);
  await waitFor("the refusal to leave GET /v1/hosts", async () => {
    const r = await p.request("GET", "/v1/hosts");
    return r.body.hosts?.every((h: any) => h.environment_problems.length === 0) || undefined;
  }, 30000);
});

/**
 * A platform of its own on the same S3 server (its own Redis, API and data dir), its outputs in `bucket`:
 * a bucket is never shared between platforms, as each one's retention removes the objects of jobs its Redis does not know.
 */
async function platformOnBucket(bucket: string, env: Record<string, string> = {}, extraTinyModels: string[] = []): Promise<Platform> {
  return Platform.start({ env: { ...s3.env(), S3_BUCKET: bucket, HOST_ID: `host-${bucket}`, JOB_ATTEMPTS: "1", ...env }, extraTinyModels });
}

test("a bucket that does not exist holds jobs queued, saying to create it (job, /readyz, doctor); once it exists they complete", { timeout: 180_000 }, async () => {
  const bucket = "not-made-yet";
  const q = await platformOnBucket(bucket);
  try {
    await q.startWorker("tiny");
    const res = await q.request("POST", "/v1/jobs", small(11));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body.id as string;
    const missing = new RegExp(`the bucket ${bucket} does not exist at ${s3.endpoint}: create it \\(aws s3 mb s3://${bucket} --endpoint-url ${s3.endpoint}\\) or set S3_BUCKET`);
    const waiting = await q.waitForJob(id, (j) => j.progress.phase === "waiting_for_environment");
    assert.deepEqual([waiting.status, waiting.attempts, waiting.progress.environment.code], ["queued", 0, "store_missing_bucket"]);
    assert.match(waiting.progress.environment.message, missing);
    const ready = await q.request("GET", "/readyz");
    assert.equal(ready.status, 503);
    assert.match(ready.body.reasons.join("\n"), missing);
    assert.deepEqual(ready.body.environment_problems.map((e: any) => e.code), ["store_missing_bucket"]);
    const doctor = await doctorStore(q.env);
    assert.deepEqual([doctor.code, doctor.check.status], [1, "fail"]);
    assert.match(doctor.check.detail, missing);
    assert.match(doctor.check.detail, /\(store_missing_bucket\)$/);
    assert.match(doctor.check.fix!, /create the bucket/);

    // The operator's fix: the bucket is made; the worker, checking again, takes the same job.
    await s3.createBucket(bucket);
    const done = await q.waitForTerminal(id);
    // With JOB_ATTEMPTS=1, an attempt spent on the missing bucket would have failed the job for good.
    assert.deepEqual([done.status, done.attempts], ["completed", 1], JSON.stringify(done.error));
    assert.deepEqual(await s3.keys(bucket), [`${id}.jpg`, `${id}.mp4`]);
    const video = await q.request("GET", done.result.video_url);
    assert.equal(video.status, 200);
    assert.equal(sha256(video.body as Buffer), done.result.sha256);
    assert.equal((await doctorStore(q.env)).check.status, "ok");
  } finally {
    await q.stop();
  }
});

test("retention: once BullMQ has removed a job, the sweep removes its objects; other jobs' stay", async () => {
  const gone = await completed(small(4));
  const kept = await completed(small(5));
  const redis = new Redis(p.env.REDIS_URL!);
  const queue = new Queue(queueName("tiny"), { connection: redis, prefix: p.env.QUEUE_PREFIX });
  try {
    // What removeOnComplete does past KEEP_COMPLETED_SECONDS / KEEP_COMPLETED_JOBS: the job is removed.
    assert.equal(await queue.remove(gone.id), 1);
    await waitFor("the removed job's objects to be swept", async () => ((await jobKeys(gone.id)).length === 0 ? true : undefined), 30000);
    assert.deepEqual(await jobKeys(kept.id), [`${kept.id}.jpg`, `${kept.id}.mp4`]);
    assert.equal((await p.request("GET", gone.result.video_url)).status, 404);
  } finally {
    await queue.close();
    redis.disconnect();
  }
});

test("retention runs for every model: another model's worker removes old jobs of a model with no worker, and their objects", { timeout: 180_000 }, async () => {
  const bucket = "kept-a-second";
  await s3.createBucket(bucket);
  const q = await platformOnBucket(bucket, { KEEP_COMPLETED_SECONDS: "1", OUTPUT_SWEEP_SECONDS: "1" }, ["tinyother"]);
  try {
    // tiny's own worker sweeps hourly: while it runs, nothing removes the job, so the test sees it completed.
    const tiny = await q.startWorker("tiny", { env: { OUTPUT_SWEEP_SECONDS: "3600" } });
    const res = await q.request("POST", "/v1/jobs", small(12));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await q.waitForTerminal(res.body.id);
    assert.equal(job.status, "completed", JSON.stringify(job.error));
    assert.deepEqual(await s3.keys(bucket), [`${job.id}.jpg`, `${job.id}.mp4`]);
    const listed = async () => ((await q.request("GET", "/v1/jobs")).body.jobs as { id: string }[]).map((j) => j.id);
    assert.deepEqual(await listed(), [job.id]);
    // No job of tiny completes from now on, so BullMQ's removeOnComplete never runs for its queue.
    await tiny.stop();

    const other = await q.startWorker("tinyother");
    await waitFor("tinyother's worker to remove tiny's old job and its objects", async () => ((await s3.keys(bucket)).length === 0 ? true : undefined), 60000);
    const gone = await q.request("GET", `/v1/jobs/${job.id}`);
    assert.equal(gone.status, 404, JSON.stringify(gone.body));
    assert.equal((await q.request("GET", job.result.video_url)).status, 404);
    assert.deepEqual(await listed(), [], "nor listed");
    await other.waitForOutput(/removed jobs past retention/);
    assert.match(other.output, /"model":"tiny","jobs":1,"objects":2/);
  } finally {
    await q.stop();
  }
});

test("a streamed job killed mid-run and run again leaves one video and one poster in the bucket; its growing video streams from the store", async () => {
  const worker = await p.startWorker("tinymagi");
  const res = await p.request("POST", "/v1/jobs", { model: "tinymagi", prompt: "a boat in the rain", width: 64, height: 64, num_frames: 192, steps: 64, seed: 3 });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body.id as string;
  const running = await p.waitForJob(id, (j) => (j.progress.chunks_done ?? 0) >= 1);
  // The growing video is served from the parts in the bucket: exactly the announced bytes.
  const partial: HttpAnswer<Buffer> = await p.request("GET", `/v1/jobs/${id}/video`);
  assert.equal(partial.status, 200, `${JSON.stringify(partial.body)} ${JSON.stringify(running.progress)} ${JSON.stringify(await jobKeys(id))}`);
  assert.ok(partial.body.length >= running.progress.partial_video.bytes);
  assert.ok((await jobKeys(id)).some((k) => k.includes(".growing.part/")), "parts are in the bucket");
  worker.child.kill("SIGKILL");
  await worker.exited;
  await p.startWorker("tinymagi");
  const done = await p.waitForTerminal(id, 240000);
  assert.equal(done.status, "completed", JSON.stringify(done.error));
  assert.deepEqual(await jobKeys(id), [`${id}.jpg`, `${id}.mp4`], "one video, one poster: no part of either attempt is left");
  assert.equal(sha256(await s3.object(`${id}.mp4`)), done.result.sha256);
});
