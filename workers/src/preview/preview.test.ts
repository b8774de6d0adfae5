import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { LatentPreviewSchema } from "@videosdgx/shared";
import { childProcesses, makeTempDir, waitFor } from "@videosdgx/shared/testing";
import { decodeToRgb, probeVideo } from "../video/probe.js";
import { useFfmpegBinary } from "../video/mp4-encoder.js";
import { closePreviewEncoder, jpegLength, previewSize, PreviewJpegs } from "../video/preview-jpegs.js";
import { frameX0, previewLatentFrame } from "../kernels/frame-x0.js";
import { createLatentProjection } from "./projection-graph.js";

test("the projection graph gives the hand-computed bytes of a 2-channel 1x2 frame", async () => {
  // rgb = x0 . factors + bias in [-1, 1]; byte = round((rgb / 2 + 0.5) clamped * 255), halves to even.
  const preview = LatentPreviewSchema.parse({ latent_rgb_factors: [[1, 0, 0.5], [0, 1, -0.5]], latent_rgb_bias: [0, 0, 0.1] });
  // Channel-major [C, H*W]: channel 0 = (0.5, -1), channel 1 = (0, 0.5).
  const x0 = Float32Array.of(0.5, -1, 0, 0.5);
  // Pixel 0: r 0.5 -> 191.25 -> 191; g 0 -> 127.5 -> 128 (even); b 0.25 + 0.1 = 0.35 -> 172.125 -> 172.
  // Pixel 1: r -1 -> 0; g 0.5 -> 191; b -0.5 - 0.25 + 0.1 = -0.65 -> 44.625 -> 45.
  const projection = await createLatentProjection(preview);
  try {
    assert.deepEqual([...(await projection.toRgb(x0, 1, 2))], [191, 128, 172, 0, 191, 45]);
    await assert.rejects(projection.toRgb(x0, 2, 2), /x0 has 4 values, not 2x2x2/);
  } finally {
    await projection.release();
  }
});

test("frameX0 gathers one frame's x - sigma * v from a strided layout", () => {
  // [C=2, F=3, H*W=2]: the middle frame (1) of x and of a velocity, sigma 0.5.
  const x = Float32Array.from({ length: 12 }, (_, i) => i);
  const v = new Float32Array(12).fill(2);
  const at = (c: number) => (c * 3 + previewLatentFrame(3)) * 2;
  const x0 = frameX0(2, 2, 1, [{ data: x, weight: 1, offset: at }, { data: v, weight: -0.5, offset: at }]);
  assert.deepEqual([...x0], [2 - 1, 3 - 1, 8 - 1, 9 - 1]);
  // Packed [pixels, C] (stride C): the same values read channel-minor.
  const packed = Float32Array.of(0, 10, 1, 11);
  assert.deepEqual([...frameX0(2, 2, 2, [{ data: packed, weight: 1, offset: (c) => c }])], [0, 1, 10, 11]);
  assert.equal(previewLatentFrame(1), 0);
  assert.equal(previewLatentFrame(21), 10);
});

test("one ffmpeg makes a JPEG per frame, each of the preview size, written in place", async () => {
  const { dir, remove } = await makeTempDir("vdgx-preview");
  try {
    const latent = { width: 26, height: 15 };
    const size = previewSize(latent);
    assert.deepEqual(size, { width: 256, height: 148 });
    const target = path.join(dir, "job.preview.jpg");
    const jpegs = new PreviewJpegs(latent, target);
    for (const level of [40, 200]) {
      await jpegs.write(new Uint8Array(latent.width * latent.height * 3).fill(level));
      const bytes = await readFile(target);
      assert.equal(jpegLength(bytes), bytes.length, "one complete JPEG");
      const info = await probeVideo(target);
      assert.deepEqual([info.codec, info.width, info.height], ["mjpeg", size.width, size.height]);
      const pixels = await decodeToRgb(target, size.width, size.height);
      const mean = pixels.reduce((a, b) => a + b, 0) / pixels.length;
      assert.ok(Math.abs(mean - level) < 3, `a flat frame of ${level} decodes to about ${level}, got ${mean}`);
    }
  } finally {
    await closePreviewEncoder();
    await remove();
  }
});

test("the encoder is kept from job to job of one size, replaced for another size or once it died, and ended on request", async () => {
  const { dir, remove } = await makeTempDir("vdgx-preview-encoder");
  const frame = (latent: { width: number; height: number }, level: number) => new Uint8Array(latent.width * latent.height * 3).fill(level);
  const sizeOf = async (file: string) => {
    const info = await probeVideo(file);
    return [info.width, info.height];
  };
  try {
    const small = { width: 26, height: 15 };
    const wide = { width: 40, height: 10 };
    // Two jobs in turn at one size: one ffmpeg for both.
    const first = new PreviewJpegs(small, path.join(dir, "a.preview.jpg"));
    first.warm();
    const [pid] = await childProcesses("ffmpeg");
    assert.ok(pid, "warm starts ffmpeg before the first frame");
    await first.write(frame(small, 60));
    await new PreviewJpegs(small, path.join(dir, "b.preview.jpg")).write(frame(small, 90));
    assert.deepEqual(await childProcesses("ffmpeg"), [pid]);
    // Another size: another ffmpeg, the old one ended.
    const other = new PreviewJpegs(wide, path.join(dir, "c.preview.jpg"));
    await other.write(frame(wide, 120));
    assert.deepEqual(await sizeOf(path.join(dir, "c.preview.jpg")), [previewSize(wide).width, previewSize(wide).height]);
    const next = (await childProcesses("ffmpeg")).find((p) => p !== pid);
    assert.ok(next, `a new ffmpeg for ${wide.width}x${wide.height}`);
    await waitFor("the old size's ffmpeg to end", async () => ((await childProcesses("ffmpeg")).includes(pid) ? undefined : true), 10000);
    // ffmpeg dies with a frame in it (stopped first, so the frame is still there): that write fails, naming the exit.
    process.kill(Number(next), "SIGSTOP");
    const lost = other.write(frame(wide, 130));
    process.kill(Number(next), "SIGKILL");
    await assert.rejects(lost, /preview encoder exited \(SIGKILL\)/);
    // The next write has a new ffmpeg.
    await other.write(frame(wide, 140));
    const again = (await childProcesses("ffmpeg")).find((p) => p !== next);
    assert.ok(again, `a new ffmpeg after the dead one (${next})`);
    await closePreviewEncoder();
    assert.deepEqual(await childProcesses("ffmpeg"), []);
  } finally {
    await closePreviewEncoder();
    await remove();
  }
});

test("an encoder that cannot start: warming does not throw, the write fails naming why, and closing returns", async () => {
  const { dir, remove } = await makeTempDir("vdgx-preview-nostart");
  try {
    useFfmpegBinary(path.join(dir, "no-such-ffmpeg"));
    const jpegs = new PreviewJpegs({ width: 26, height: 15 }, path.join(dir, "x.preview.jpg"));
    jpegs.warm();
    await assert.rejects(jpegs.write(new Uint8Array(26 * 15 * 3)), /ENOENT/);
    await closePreviewEncoder();
  } finally {
    useFfmpegBinary("ffmpeg");
    await closePreviewEncoder();
    await remove();
  }
});
