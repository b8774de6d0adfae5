import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { previewFileOf } from "@videosdgx/shared";
import { blockPattern, encodeTestImage } from "@videosdgx/shared/testing";
import { generateTinyLtx2Model } from "@videosdgx/workers/tinyltx2";
import { generateTinyMagiModel } from "@videosdgx/workers/tinymagi";
import { generateTinyWanModel } from "@videosdgx/workers/tinywan";
import { generateTinyWanI2vModel } from "@videosdgx/workers/tinywani2v";
import { decodeToRgb, previewSize, probeVideo } from "@videosdgx/workers/video";
import { meanAbsDiff } from "./frame-diff.js";
import { finishedOutputs, Platform } from "./platform.js";
import { readEvents, type SseEvent } from "./sse-reader.js";

let p: Platform;
before(async () => {
  // Every worker previews every step, but the copy of tiny named tinyoff, whose worker has them off.
  p = await Platform.start({ env: { PREVIEW_EVERY_STEPS: "1" }, extraTinyModels: ["tinyoff"] });
  const models = path.join(p.dataDir, "models");
  await Promise.all([
    generateTinyWanModel(path.join(models, "tinywan")),
    generateTinyWanI2vModel(path.join(models, "tinywani2v")),
    generateTinyLtx2Model(path.join(models, "tinyltx2")),
    generateTinyMagiModel(path.join(models, "tinymagi")),
  ]);
  // The API follows the event streams of the models installed when it starts.
  await p.api.stop();
  await p.startApi();
});
after(() => p?.stop());

/** Every event of a job's stream until it ends. */
async function eventsOf(id: string): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of readEvents(`${p.base}/v1/jobs/${id}/events`)) if (e.event) out.push(e);
  return out;
}

/**
 * Per model: a job whose size makes the preview the video's own size (its longer side 256), its latent
 * cell in pixels, and the video frame its last preview shows (the middle latent frame's last video frame;
 * for magi, of the last chunk). The tolerance is in 8-bit levels of mean absolute difference between that
 * frame and the last preview: tiny's decoder is exactly its projection (what is left: JPEG, bilinear
 * scaling against 8x8 blocks, H.264: 2.5 measured); the replicas' decoders bend it through tanh (measured
 * 9.3 tinywan, 9.1 tinyltx2 with its coarse 32-pixel cells, 5.7 tinymagi), so their bound is looser.
 * tinywani2v takes the image path (condition channels and image states in the denoise loop) with tinywan's decoder.
 */
const CASES = [
  { model: "tiny", job: { width: 256, height: 256, num_frames: 17, steps: 10 }, cell: 8, frame: 8, tolerance: 4 },
  { model: "tinywan", job: { width: 256, height: 160, num_frames: 17, steps: 8 }, cell: 8, frame: 8, tolerance: 12 },
  { model: "tinywani2v", job: { width: 256, height: 160, num_frames: 17, steps: 8 }, cell: 8, frame: 8, tolerance: 12, image: true },
  { model: "tinyltx2", job: { width: 256, height: 160, num_frames: 25, steps: 8 }, cell: 32, frame: 8, tolerance: 12 },
  { model: "tinymagi", job: { width: 256, height: 256, num_frames: 24, steps: 8 }, cell: 8, frame: 8, tolerance: 8 },
];

/** A replica's decoded byte with its decoder's tanh undone: the level its linear part gives. */
const untanh = (d: number) => Math.min(255, Math.max(0, Math.round((Math.atanh(Math.min(0.999, Math.max(-0.999, d / 127.5 - 1))) + 1) * 127.5)));

/** The mean of the 2x2 pixels at the centre of each latent cell (cell x cell pixels), per channel. */
function cellCentres(rgb: Uint8Array, size: { width: number; height: number }, cell: number): Uint8Array {
  const [w, h] = [size.width / cell, size.height / cell];
  const out = new Uint8Array(w * h * 3);
  for (let cy = 0; cy < h; cy++) {
    for (let cx = 0; cx < w; cx++) {
      for (let k = 0; k < 3; k++) {
        let sum = 0;
        for (const dy of [-1, 0]) for (const dx of [-1, 0]) sum += rgb[((cy * cell + cell / 2 + dy) * size.width + cx * cell + cell / 2 + dx) * 3 + k]!;
        out[(cy * w + cx) * 3 + k] = Math.round(sum / 4);
      }
    }
  }
  return out;
}

for (const c of CASES) {
  test(`${c.model}: preview events with rising steps, the latest JPEG served, the last one like the final frame`, { timeout: 240_000 }, async () => {
    await p.ensureWorker(c.model);
    const image = "image" in c ? { image: `data:image/png;base64,${(await encodeTestImage(blockPattern(c.job.width, c.job.height, 8), c.job.width, c.job.height, "png")).toString("base64")}` } : {};
    const res = await p.request("POST", "/v1/jobs", { model: c.model, prompt: "a red fox in fresh snow", seed: 7, ...c.job, ...image });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body.id as string;
    const events = await eventsOf(id);
    assert.equal(events.at(-1)?.event, "completed", events.map((e) => e.event).join(","));
    const previews = events.filter((e) => e.event === "preview").map((e) => e.data.progress.preview);
    assert.ok(previews.length >= 2, `preview events: ${previews.length}`);
    for (const pv of previews) assert.equal(pv.url, `/v1/jobs/${id}/preview.jpg`);
    const steps = previews.map((pv) => pv.step as number);
    assert.ok(steps.every((s, i) => i === 0 || s > steps[i - 1]!), `steps rise: ${steps.join(",")}`);
    const job = events.at(-1)!.data;
    // The last step's preview is always made (offers replace each other, the newest is kept).
    assert.equal(steps.at(-1), job.progress.total, "the last preview is of the last step");
    assert.deepEqual(job.progress.preview, previews.at(-1));

    const got = await p.request("GET", `/v1/jobs/${id}/preview.jpg`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("content-type"), "image/jpeg");
    assert.equal(got.headers.get("cache-control"), "no-store");
    const jpeg = path.join(p.dataDir, `${id}-got.jpg`);
    await writeFile(jpeg, got.body as Buffer);
    const size = previewSize({ width: c.job.width / c.cell, height: c.job.height / c.cell });
    assert.deepEqual(size, { width: c.job.width, height: c.job.height }, "the case is sized so the preview is the video's size");
    const info = await probeVideo(jpeg);
    assert.deepEqual([info.codec, info.width, info.height], ["mjpeg", size.width, size.height]);

    const plane = c.job.width * c.job.height * 3;
    const video = await decodeToRgb(path.join(p.outputsDir, `${id}.mp4`), c.job.width, c.job.height);
    const frame = video.subarray(c.frame * plane, (c.frame + 1) * plane);
    const preview = await decodeToRgb(jpeg, size.width, size.height);
    const diff = meanAbsDiff(preview, frame);
    assert.ok(diff < c.tolerance, `the last preview is ${diff.toFixed(2)} levels from the final frame ${c.frame} (tolerance ${c.tolerance})`);
    // The projection is the decoder's linear part: at the latent cells' centres (where bilinear scaling adds
    // nothing) and with a replica's tanh undone, only JPEG and H.264 loss is left.
    const linear = c.model === "tiny" ? frame : frame.map(untanh);
    const exact = meanAbsDiff(cellCentres(preview, c.job, c.cell), cellCentres(linear, c.job, c.cell));
    assert.ok(exact < 3, `at the cell centres the preview is ${exact.toFixed(2)} levels from the decoder's linear output`);
    assert.ok((await p.outputFiles()).includes(previewFileOf(id)));
  });
}

test("with PREVIEW_EVERY_STEPS=0 a job has no preview events and preview.jpg is a JSON 404", async () => {
  await p.startWorker("tinyoff", { env: { PREVIEW_EVERY_STEPS: "0" } });
  const res = await p.request("POST", "/v1/jobs", { model: "tinyoff", prompt: "no previews", width: 64, height: 64, num_frames: 9, steps: 6, seed: 2 });
  const events = await eventsOf(res.body.id);
  assert.equal(events.at(-1)?.event, "completed");
  assert.deepEqual(events.filter((e) => e.event === "preview"), []);
  assert.equal(events.at(-1)!.data.progress.preview, undefined);
  const got = await p.request("GET", `/v1/jobs/${res.body.id}/preview.jpg`);
  assert.equal(got.status, 404);
  assert.equal(got.body.error.code, "not_found");
  assert.match(got.body.error.message, /has no preview/);
  assert.deepEqual((await p.outputFiles()).filter((f) => f.startsWith(res.body.id)), finishedOutputs([res.body.id]));
});
