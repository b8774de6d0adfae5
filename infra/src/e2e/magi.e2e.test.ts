import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { generateTinyMagiModel, tinyMagiTargetFrames } from "@videosdgx/workers/tinymagi";
import { decodeToRgb, probeVideo } from "@videosdgx/workers/video";
import { Platform, finishedOutputs } from "./platform.js";
import { readEvents, type SseEvent } from "./sse-reader.js";
import { WebhookReceiver } from "./webhook-receiver.js";

let p: Platform;
let receiver: WebhookReceiver;
before(async () => {
  p = await Platform.start({ env: { WEBHOOK_SECRET: `whsec_${Buffer.from("magi e2e webhook secret!").toString("base64")}`, WEBHOOK_ALLOW_HOSTS: "127.0.0.1" } });
  await generateTinyMagiModel(path.join(p.dataDir, "models", "tinymagi"));
  // The API follows the event streams of the models it found at start: restarted to see tinymagi's.
  await p.api.stop();
  await p.startApi();
  receiver = await WebhookReceiver.start();
  await p.startWorker("tinymagi");
  await p.startWebhooks();
});
after(async () => {
  await receiver?.close();
  await p?.stop();
});

/** The top-level box types of an MP4. */
function topBoxes(buf: Buffer): string[] {
  const types: string[] = [];
  for (let at = 0; at + 8 <= buf.length; at += buf.readUInt32BE(at)) types.push(buf.toString("latin1", at + 4, at + 8));
  return types;
}

const SIZE = { width: 128, height: 128 };
// 8 chunks; enough steps that the chunks after a download take far longer than the download.
const JOB = { model: "tinymagi", prompt: "a paper boat drifting down a rainy street", num_frames: 192, steps: 128, seed: 7, ...SIZE };

/** GET the video now: what a player would get, saved as a file of its own for ffprobe. */
async function download(id: string, name: string): Promise<{ file: string; frames: number; bytes: number }> {
  const res = await p.request("GET", `/v1/jobs/${id}/video`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "video/mp4");
  const body = res.body as Buffer;
  assert.equal(Number(res.headers.get("content-length")), body.length);
  const file = path.join(p.dataDir, name);
  await writeFile(file, body);
  return { file, frames: (await probeVideo(file)).frames, bytes: body.length };
}

test("a tinymagi job's video can be downloaded and played while it runs and grows; it ends as a faststart MP4", async () => {
  const res = await p.request("POST", "/v1/jobs", { ...JOB, webhook: { url: receiver.url("/magi"), events: ["chunk", "completed"] } });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body.id as string;

  const chunks: SseEvent[] = [];
  const downloads: { frames: number; bytes: number }[] = [];
  let last: SseEvent | undefined;
  for await (const e of readEvents(`${p.base}/v1/jobs/${id}/events`)) {
    if (e.event === undefined) continue;
    last = e;
    if (e.event === "completed" || e.event === "failed") break;
    if (e.event !== "chunk") continue;
    chunks.push(e);
    // Downloads after the first and the third chunk, while five more are still to come.
    if (e.data.progress.chunks_done === 1 || e.data.progress.chunks_done === 3) downloads.push(await download(id, `partial-${downloads.length}.mp4`));
  }
  assert.equal(last?.event, "completed", JSON.stringify(last?.data?.error));

  // SSE: one chunk event per chunk, frames ready growing by 24.
  assert.deepEqual(chunks.map((e) => e.data.progress.frames_ready), [24, 48, 72, 96, 120, 144, 168, 192]);
  assert.deepEqual(chunks.map((e) => [e.data.progress.chunks_done, e.data.progress.chunks_total]), Array.from({ length: 8 }, (_, i) => [i + 1, 8]));
  assert.ok(chunks.every((e) => e.data.status === "running"));

  // While running: a playable file with some but not all frames, the second later one longer.
  assert.equal(downloads.length, 2);
  const [first, second] = downloads as [{ frames: number; bytes: number }, { frames: number; bytes: number }];
  assert.ok(first.frames > 0 && first.frames < 192, `first download has ${first.frames} frames`);
  assert.ok(second.frames > first.frames && second.frames < 192, `second download has ${second.frames} frames`);
  assert.ok(second.bytes > first.bytes);

  // At the end: the same URL serves the complete faststart MP4 (not fragmented), with every frame.
  const job = (await p.request("GET", `/v1/jobs/${id}`)).body;
  assert.equal(job.result.frames_ready, 192);
  assert.equal(job.progress.chunks_done, 8);
  const done = await download(id, "final.mp4");
  const info = await probeVideo(done.file);
  assert.deepEqual({ frames: info.frames, w: info.width, h: info.height, fps: info.fps, faststart: info.faststart }, { frames: 192, w: 128, h: 128, fps: 24, faststart: true });
  const boxes = topBoxes(await readFile(done.file));
  assert.ok(!boxes.includes("moof"), `final boxes: ${boxes.join(",")}`);
  assert.deepEqual((await p.outputFiles()).filter((f) => f.startsWith(id)), finishedOutputs([id]), "the growing file is gone; the poster is there");
  const poster = await fetch(`${p.base}/v1/jobs/${id}/poster.jpg`);
  assert.equal(poster.status, 200);
  assert.equal(poster.headers.get("content-type"), "image/jpeg");
  await poster.arrayBuffer(); // read to the end: the socket goes back to the pool

  // The frames are tinymagi's analytic video: each chunk conditioned on the one before it.
  const decoded = await decodeToRgb(done.file, SIZE.width, SIZE.height);
  const target = tinyMagiTargetFrames({ prompt: JOB.prompt, numFrames: 192, ...SIZE, prevScale: 1.5, textScale: 7.5 });
  const unconditioned = tinyMagiTargetFrames({ prompt: JOB.prompt, numFrames: 192, ...SIZE, prevScale: 1.5, textScale: 7.5, withPrevious: false });
  const mean = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
  const own = mean(decoded, target);
  assert.ok(own < 3, `mean abs error against the target is ${own.toFixed(2)} levels`);
  assert.ok(mean(decoded, unconditioned) > 4 * own + 3, "a video without chunk conditioning would differ");

  // The webhook subscribed to chunk events got one job.chunk per chunk, and the completion.
  await receiver.waitFor("9 webhook messages", () => receiver.on("/magi").length >= 9);
  const bodies = receiver.on("/magi").map((r) => JSON.parse(r.body));
  const chunkBodies = bodies.filter((b) => b.type === "job.chunk");
  assert.deepEqual(chunkBodies.map((b) => b.data.progress.frames_ready).sort((a: number, b: number) => a - b), [24, 48, 72, 96, 120, 144, 168, 192]);
  assert.equal(bodies.filter((b) => b.type === "job.completed").length, 1);
});

test("a tinymagi request with steps the window cannot split is a 400 naming steps and the nearest valid values", async () => {
  const res = await p.request("POST", "/v1/jobs", { model: "tinymagi", prompt: "x", steps: 10 });
  assert.equal(res.status, 400);
  assert.equal(res.body.error.code, "invalid_parameters");
  assert.deepEqual(res.body.error.details.map((d: any) => [d.field, d.nearest]), [["steps", [8, 12]]]);
});
