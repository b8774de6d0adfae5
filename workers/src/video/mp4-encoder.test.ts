import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { encodeMp4, ffmpegCliArgs, posterPathOf, removeStalePartials, VideoEncodeError } from "./mp4-encoder.js";
import { decodeToRgb, probeVideo } from "./probe.js";

const dir = await mkdtemp(path.join(os.tmpdir(), "videosdgx-mp4-"));
after(() => rm(dir, { recursive: true, force: true }));

const [W, H, F, FPS] = [64, 48, 17, 16];
const settings = { width: W, height: H, fps: FPS, preset: "veryfast", crf: 18, threads: 2 };

/** A smooth gradient drifting over time: compressible, so decoded pixels stay close to the input. */
function gradient(frames: number, width: number, height: number): Uint8Array {
  const out = new Uint8Array(frames * width * height * 3);
  let o = 0;
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        out[o++] = Math.round((255 * x) / (width - 1));
        out[o++] = Math.round((255 * y) / (height - 1));
        out[o++] = (f * 8 + x + y) % 256;
      }
    }
  }
  return out;
}

const frames = gradient(F, W, H);
const partials = async () => (await readdir(dir)).filter((n) => n.endsWith(".part"));

test("encodes an H.264 yuv420p MP4 with the index up front", async () => {
  const outPath = path.join(dir, "nested", "a.mp4"); // the output dir is created on demand
  const { bytes, sha256 } = await encodeMp4(frames, { ...settings, outPath });
  const file = await readFile(outPath);
  assert.equal(bytes, file.length);
  assert.match(sha256, /^[0-9a-f]{64}$/);
  const info = await probeVideo(outPath);
  const { durationS, ...rest } = info;
  assert.deepEqual(rest, { codec: "h264", pixFmt: "yuv420p", width: W, height: H, frames: F, fps: FPS, faststart: true });
  assert.ok(Math.abs(durationS - F / FPS) < 1e-3, `duration ${durationS}`);
  assert.deepEqual((await readdir(path.dirname(outPath))).sort(), ["a.jpg", "a.mp4"], "the poster beside it, no temporary file left behind");
});

test("the poster is a JPEG of the middle frame at the video's size", async () => {
  const outPath = path.join(dir, "poster", "p.mp4");
  await encodeMp4(frames, { ...settings, outPath });
  const poster = posterPathOf(outPath);
  assert.equal(poster, path.join(dir, "poster", "p.jpg"));
  const { stdout } = await promisify(execFile)("ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "json", poster]);
  assert.deepEqual(JSON.parse(stdout).streams, [{ codec_name: "mjpeg", width: W, height: H }]);
  const pixels = await decodeToRgb(poster, W, H);
  const frameBytes = W * H * 3;
  const mid = Math.floor(F / 2) * frameBytes;
  const meanDiff = (from: number) => {
    let sum = 0;
    for (let i = 0; i < frameBytes; i++) sum += Math.abs(pixels[i]! - frames[from + i]!);
    return sum / frameBytes;
  };
  // JPEG is lossy: the poster is much closer to the middle frame than to the first.
  const [toMiddle, toFirst] = [meanDiff(mid), meanDiff(0)];
  assert.ok(toMiddle < 3 && toMiddle * 4 < toFirst, `mean difference to the middle frame ${toMiddle}, to the first ${toFirst}`);
});

test("the same frames give a byte-identical file", async () => {
  const a = await encodeMp4(frames, { ...settings, outPath: path.join(dir, "same1.mp4") });
  const b = await encodeMp4(frames, { ...settings, outPath: path.join(dir, "same2.mp4") });
  assert.equal(a.sha256, b.sha256);
  assert.equal(a.bytes, b.bytes);
  // Re-encoding over an existing file replaces it atomically with the same content.
  const c = await encodeMp4(frames, { ...settings, outPath: path.join(dir, "same1.mp4") });
  assert.equal(c.sha256, a.sha256);
});

test("decoded pixels are close to the input", async () => {
  const outPath = path.join(dir, "roundtrip.mp4");
  await encodeMp4(frames, { ...settings, outPath });
  const decoded = await decodeToRgb(outPath, W, H);
  assert.equal(decoded.length, frames.length);
  let err = 0;
  for (let i = 0; i < frames.length; i++) err += Math.abs(decoded[i]! - frames[i]!);
  const mae = err / frames.length;
  assert.ok(mae < 3, `mean abs error ${mae.toFixed(2)}`); // 1.9 measured at crf 18 (yuv420p chroma subsampling + rounding)
});

test("the CLI argument list reproduces the same file from a raw file", async () => {
  const raw = path.join(dir, "frames.rgb");
  const viaCli = path.join(dir, "cli.mp4");
  await writeFile(raw, frames);
  await promisify(execFile)("ffmpeg", ffmpegCliArgs(settings, raw, viaCli));
  const piped = await encodeMp4(frames, { ...settings, outPath: path.join(dir, "piped.mp4") });
  const cli = await readFile(viaCli);
  assert.equal(createHash("sha256").update(cli).digest("hex"), piped.sha256);
});

test("an ffmpeg failure rejects with VideoEncodeError carrying ffmpeg's stderr", async () => {
  const outPath = path.join(dir, "bad.mp4");
  await assert.rejects(encodeMp4(frames, { ...settings, preset: "nonsense", outPath }), (err: unknown) => {
    assert.ok(err instanceof VideoEncodeError);
    assert.match(err.message, /^ffmpeg failed: ffmpeg exited with code \d+: /);
    assert.match(err.stderrTail, /nonsense/);
    assert.ok(err.stderrTail.split("\n").length <= 10);
    return true;
  });
  assert.deepEqual(await partials(), []);
  assert.ok(!(await readdir(dir)).includes("bad.mp4"));
});

test("frames that are not whole frames are refused before ffmpeg runs", async () => {
  await assert.rejects(encodeMp4(frames.subarray(1), { ...settings, outPath: path.join(dir, "x.mp4") }), RangeError);
});

test("aborting mid-encode kills ffmpeg and removes the temporary file", async () => {
  // Noise at a slow preset keeps ffmpeg busy long enough to be interrupted.
  const [w, h, n] = [320, 240, 240];
  const noisy = new Uint8Array(w * h * 3 * n);
  for (let i = 0; i < noisy.length; i++) noisy[i] = (i * 2654435761) >>> 24;
  const outPath = path.join(dir, "aborted.mp4");
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("shutting down")), 300);
  await assert.rejects(
    encodeMp4(noisy, { ...settings, width: w, height: h, preset: "slow", outPath, signal: controller.signal }),
    /shutting down/,
  );
  assert.deepEqual(await partials(), []);
  assert.ok(!(await readdir(dir)).includes("aborted.mp4"));
  // An already-aborted signal never starts ffmpeg.
  await assert.rejects(encodeMp4(frames, { ...settings, outPath, signal: AbortSignal.abort() }), { name: "AbortError" });
});

test("removeStalePartials removes only that output's temporary files", async () => {
  const stale = path.join(dir, "stale");
  await encodeMp4(frames, { ...settings, outPath: path.join(stale, "job1.mp4") });
  for (const name of ["job1.mp4.123-abcd.part", "job1.mp4.9-ff.part", "job1.jpg.9-ff.part", "job10.mp4.1-aa.part", "job2.mp4.1-aa.part"]) {
    await writeFile(path.join(stale, name), "x");
  }
  await removeStalePartials(stale, "job1.mp4");
  assert.deepEqual((await readdir(stale)).sort(), ["job1.jpg", "job1.mp4", "job10.mp4.1-aa.part", "job2.mp4.1-aa.part"]);
  await removeStalePartials(path.join(dir, "missing"), "job1.mp4");
});
