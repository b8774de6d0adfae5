import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { BullLayout, queueName } from "@videosdgx/shared";
import { blockPattern, encodeTestImage, makeTempDir, testEnv } from "@videosdgx/shared/testing";
import { generateTinyWanI2vModel, tinyWanI2vFirstFrame } from "@videosdgx/workers/tinywani2v";
import { decodeToRgb, probeVideo } from "@videosdgx/workers/video";
import { CLI_MAIN } from "../entry-points.js";
import { Platform, type HttpAnswer } from "./platform.js";

const MAX_BYTES = 60_000;
const MAX_PIXELS = 400 * 400;
let p: Platform;
let redis: Redis;
before(async () => {
  p = await Platform.start({ env: { IMAGE_MAX_BYTES: String(MAX_BYTES), IMAGE_MAX_PIXELS: String(MAX_PIXELS) } });
  await generateTinyWanI2vModel(path.join(p.dataDir, "models", "tinywani2v"));
  await p.startWorker("tinywani2v");
  redis = new Redis(p.redis.url);
});
after(async () => {
  redis?.disconnect();
  await p?.stop();
});

const [W, H, F] = [96, 64, 9];
const JOB = { model: "tinywani2v", prompt: "a kite over a windy hill", width: W, height: H, num_frames: F, steps: 6, seed: 4 };
const dataUrl = (bytes: Buffer, type: string) => `data:${type};base64,${bytes.toString("base64")}`;

/** Peak signal-to-noise ratio of two RGB frames, in dB. */
function psnr(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / Math.max(se / a.length, 1e-12));
}

async function firstFrameOf(job: any): Promise<Uint8Array> {
  const file = path.join(p.outputsDir, `${job.id}.mp4`);
  const info = await probeVideo(file);
  assert.deepEqual({ w: info.width, h: info.height, frames: info.frames }, { w: W, h: H, frames: F }, "the job's size, whatever the image's");
  return (await decodeToRgb(file, W, H)).subarray(0, W * H * 3);
}

async function multipart(fields: Record<string, string>, image?: { bytes: Buffer; type: string; name?: string }, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (image) form.append(image.name ?? "image", new Blob([new Uint8Array(image.bytes)], { type: image.type }), "picture");
  const res = await fetch(`${p.base}/v1/jobs`, { method: "POST", body: form, headers });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const jobFields = Object.fromEntries(Object.entries(JOB).map(([k, v]) => [k, String(v)]));
const completed = async (res: HttpAnswer) => {
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const job = await p.waitForTerminal(res.body.id);
  assert.equal(job.status, "completed", JSON.stringify(job.error));
  return job;
};

test("a data URL PNG: the video's first frame is the image, the bytes kept beside the job, not in Redis", async () => {
  const rgb = blockPattern(W, H, 8);
  const png = await encodeTestImage(rgb, W, H, "png");
  const res = await p.request("POST", "/v1/jobs", { ...JOB, image: dataUrl(png, "image/png") });
  const job = await completed(res);
  assert.equal(res.body.params.image.media_type, "image/png");
  assert.deepEqual([res.body.params.image.width, res.body.params.image.height], [W, H]);
  // The job's data holds a reference and the digest; the bytes are in OUTPUTS_DIR/inputs under the job's id.
  const data = (await new BullLayout("e2e").jobData(redis, queueName("tinywani2v"), job.id)) as Record<string, unknown>;
  assert.equal(data.image_key, `${job.id}.png`);
  assert.ok(JSON.stringify(data).length < 2000, "no image bytes in the job data");
  assert.deepEqual(await readFile(path.join(p.outputsDir, "inputs", `${job.id}.png`)), png);
  // Against the image itself, after H.264: before encoding the replica's first frame is the image exactly
  // (8x8 cells of 8x8 blocks; workers/src/tinywani2v test), so what is left is x264's loss (CRF 18, 4:2:0
  // chroma on saturated 8 px blocks): measured 31.5 dB. The same pattern one block off (an off-centre
  // crop) measures 3.9 dB and the prompt's last frame 5.4 dB, so 28 dB tells them apart with room.
  const first = await firstFrameOf(job);
  const db = psnr(first, rgb);
  assert.ok(db > 28, `first frame PSNR ${db.toFixed(1)} dB against the image`);
  const shifted = blockPattern(W + 8, H, 8).filter((_, i) => Math.floor(i / 3) % (W + 8) >= 8);
  assert.ok(psnr(first, shifted) < 15, "the threshold would catch a crop one block off");
  const later = (await decodeToRgb(path.join(p.outputsDir, `${job.id}.mp4`), W, H)).subarray(W * H * 3 * 8);
  assert.ok(psnr(later, rgb) < 15, "the last frame is the prompt's, not the image");
});

test("a multipart JPEG of another aspect ratio: scaled to cover, centre-cropped, first frame matches", async () => {
  // 2x the job's size with 16 px blocks between 32 px red margins: the cover fit halves it and the crop
  // removes the margins, leaving the 8 px block pattern.
  const jpeg = await encodeTestImage(blockPattern(2 * W, 2 * H, 16, { x: 32, y: 0 }), 2 * W + 64, 2 * H, "jpeg");
  const res = await multipart(jobFields, { bytes: jpeg, type: "image/jpeg" });
  const job = await completed(res);
  assert.equal(res.body.params.image.media_type, "image/jpeg");
  assert.equal(res.body.params.num_frames, F, "form text fields are typed by the schema");
  const expected = tinyWanI2vFirstFrame(blockPattern(W, H, 8), W, H);
  const db = psnr(await firstFrameOf(job), expected);
  // JPEG's loss and Lanczos' ringing at the block edges come on top of H.264's: measured 28.9 dB against
  // the cropped pattern's cell means (a crop one block off: about 4 dB, as above).
  assert.ok(db > 24, `first frame PSNR ${db.toFixed(1)} dB against the cropped image`);
});

test("the same Idempotency-Key and image is one job, as a data URL or a file part; another image is a 422", async () => {
  const webp = await encodeTestImage(blockPattern(W, H, 8), W, H, "webp");
  const headers = { "Idempotency-Key": "i2v-once" };
  const first = await p.request("POST", "/v1/jobs", { ...JOB, image: dataUrl(webp, "image/webp") }, headers);
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.params.image.media_type, "image/webp");
  const again = await multipart(jobFields, { bytes: webp, type: "image/webp" }, headers);
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.id, first.body.id);
  const other = await multipart(jobFields, { bytes: await encodeTestImage(blockPattern(W, H, 16), W, H, "webp"), type: "image/webp" }, headers);
  assert.equal(other.status, 422, JSON.stringify(other.body));
  await completed(first);
});

const fieldsOf = (res: HttpAnswer) => (res.body.error.details ?? []).map((d: any) => d.field);

test("refusals name image: a model without i2v, no image, bad base64, bytes of another type, too large", async () => {
  const png = await encodeTestImage(blockPattern(W, H, 8), W, H, "png");
  const cases: [string, Promise<HttpAnswer>, number, RegExp][] = [
    ["image for tiny", p.request("POST", "/v1/jobs", { model: "tiny", prompt: "a cat", image: dataUrl(png, "image/png") }), 400, /capabilities\.i2v is false/],
    ["image for tiny (seed route)", p.request("POST", "/v1/models/tiny/generate", { prompt: "a cat", image: dataUrl(png, "image/png") }), 400, /capabilities\.i2v is false/],
    ["multipart image for tiny", multipart({ model: "tiny", prompt: "a cat" }, { bytes: png, type: "image/png" }), 400, /capabilities\.i2v is false/],
    ["no image", p.request("POST", "/v1/jobs", JOB), 400, /image is required/],
    ["bad base64", p.request("POST", "/v1/jobs", { ...JOB, image: "data:image/png;base64,@@@not*base64" }), 400, /not valid base64/],
    ["not a data URL", p.request("POST", "/v1/jobs", { ...JOB, image: "https://example.com/cat.png" }), 400, /data URL/],
    ["text called PNG", p.request("POST", "/v1/jobs", { ...JOB, image: dataUrl(Buffer.from("hello, not an image at all"), "image/png") }), 400, /not a JPEG, PNG or WebP/],
    ["PNG called JPEG", multipart(jobFields, { bytes: png, type: "image/jpeg" }), 400, /sent as image\/jpeg, but its bytes are image\/png/],
    ["GIF type", p.request("POST", "/v1/jobs", { ...JOB, image: dataUrl(png, "image/gif") }), 400, /JPEG, PNG or WebP only/],
    ["too many bytes (data URL)", p.request("POST", "/v1/jobs", { ...JOB, image: dataUrl(Buffer.alloc(MAX_BYTES + 10, 1), "image/png") }), 413, new RegExp(`limit is ${MAX_BYTES} bytes \\(IMAGE_MAX_BYTES\\)`)],
    ["too many bytes (file)", multipart(jobFields, { bytes: Buffer.concat([png, Buffer.alloc(MAX_BYTES)]), type: "image/png" }), 413, new RegExp(`limit of ${MAX_BYTES} bytes \\(IMAGE_MAX_BYTES\\)`)],
    ["too many pixels", encodeTestImage(new Uint8Array(500 * 400 * 3), 500, 400, "png").then((big) => multipart(jobFields, { bytes: big, type: "image/png" })), 413, new RegExp(`500x400 = 200000 pixels; the limit is ${MAX_PIXELS} pixels \\(IMAGE_MAX_PIXELS\\)`)],
  ];
  for (const [what, answer, status, message] of cases) {
    const res = await answer;
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(fieldsOf(res), ["image"], `${what}: ${JSON.stringify(res.body)}`);
    assert.match(res.body.error.message, message, what);
  }
  const stray = await multipart(jobFields, { bytes: png, type: "image/png", name: "picture" });
  assert.equal(stray.status, 400);
  assert.deepEqual(fieldsOf(stray), ["picture"], "a file part of another name is refused by its name");
});

test("videosdgx generate --image: the file becomes the first frame; a missing or wrong file is refused before any request", async () => {
  const work = await makeTempDir("vdgx-cli-image");
  const cli = (args: string[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd: work.dir, env: testEnv({ VIDEOSDGX_URL: p.base }), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
    child.once("close", (code) => resolve({ code, out }));
  });
  try {
    const rgb = blockPattern(W, H, 8);
    await writeFile(path.join(work.dir, "first.png"), await encodeTestImage(rgb, W, H, "png"));
    await writeFile(path.join(work.dir, "notes.png"), "not an image");
    const job = ["--model", "tinywani2v", "--size", `${W}x${H}`, "--frames", String(F), "--steps", "6", "--seed", "4"];
    const made = await cli(["generate", "a kite from the command line", ...job, "--image", "first.png", "-o", "kite.mp4", "--json"]);
    assert.equal(made.code, 0, made.out);
    const result = JSON.parse(made.out.trim().split("\n").at(-1)!);
    assert.equal(result.event, "result");
    const done = (await p.request("GET", `/v1/jobs/${result.id}`)).body;
    assert.equal(done.params.image.media_type, "image/png");
    assert.ok(psnr(await firstFrameOf(done), rgb) > 28, "the first frame is the file's image (the bound of the data URL test)");
    for (const [file, message] of [["missing.png", /--image missing\.png: no such file/], ["notes.png", /--image notes\.png: not a JPEG, PNG or WebP image/]] as const) {
      const refused = await cli(["generate", "x", ...job, "--image", file]);
      assert.equal(refused.code, 2, refused.out);
      assert.match(refused.out, message);
    }
    const noI2v = await cli(["generate", "x", "--model", "tiny", "--image", "first.png"]);
    assert.equal(noI2v.code, 2, noI2v.out);
    assert.match(noI2v.out, /capabilities\.i2v is false/);
  } finally {
    await work.remove();
  }
});
