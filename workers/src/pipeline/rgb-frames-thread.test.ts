import assert from "node:assert/strict";
import { after, test } from "node:test";
import { gaussianNoise } from "./noise.js";
import { createRgbConverter } from "./rgb-frames-thread.js";

const converter = createRgbConverter();
after(() => converter.release());

/** diffusers' postprocess written out plainly: float32 (x / 2 + 0.5), clamped, times 255, half to even. */
function reference(video: Float32Array, frames: number, height: number, width: number): Uint8Array {
  const plane = height * width;
  const out = new Uint8Array(video.length);
  for (let f = 0; f < frames; f++) {
    for (let p = 0; p < plane; p++) {
      for (let k = 0; k < 3; k++) {
        const unit = Math.min(1, Math.max(0, Math.fround(Math.fround(video[(k * frames + f) * plane + p]! / 2) + 0.5)));
        const level = Math.fround(unit * 255);
        const floor = Math.floor(level);
        const rounded = level - floor === 0.5 ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(level);
        out[(f * plane + p) * 3 + k] = rounded;
      }
    }
  }
  return out;
}

test("frames come back as rgb24 parts of whole frames, in order, with the reference's bytes: halves and clamping included", async () => {
  const size = { frames: 9, height: 24, width: 40 };
  const frameBytes = size.height * size.width * 3;
  const video = gaussianNoise(3 * size.frames * size.height * size.width, 9).map((v) => v * 0.8);
  // Values whose level is exactly k + 0.5 (rounded to even), values beyond [-1, 1], and the ends.
  for (let i = 0; i < 512; i++) video[i] = ((i % 256) + 0.5) / 127.5 - 1;
  video.set([-3, 3, -1, 1, -1.0000001, 1.0000001, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], 600);
  const want = reference(video, size.frames, size.height, size.width);
  const frames = converter.frames(video, size);
  assert.equal(frames.count, size.frames);
  const parts: Uint8Array[] = [];
  for await (const part of frames.parts) parts.push(part);
  // 9 frames: groups of 4, 4 and 1, so the encoder can start on the first group.
  assert.deepEqual(parts.map((p) => p.length / frameBytes), [4, 4, 1]);
  const got = Buffer.concat(parts);
  assert.deepEqual(got, Buffer.from(want));
  assert.deepEqual([...got.subarray(600 * 3, 600 * 3 + 1)], [0]); // -3 clamps to 0 (channel R, pixel 600)
});

test("a video of the wrong size fails its parts with the reason, and the converter goes on working", async () => {
  const bad = converter.frames(new Float32Array(100), { frames: 2, height: 4, width: 4 });
  await assert.rejects(async () => {
    for await (const _ of bad.parts);
  }, /RGB conversion failed: video holds 100 values, not 3 x 2 frames of 4x4/);
  const size = { frames: 1, height: 2, width: 2 };
  const frames = converter.frames(Float32Array.of(-1, 0, 1, 2, -1, -1, -1, -1, 1, 1, 1, 1), size);
  const parts: Uint8Array[] = [];
  for await (const part of frames.parts) parts.push(part);
  assert.deepEqual([...Buffer.concat(parts)], [0, 0, 255, 128, 0, 255, 255, 0, 255, 255, 0, 255]);
});

test("a closed request drops its parts; the next request gets only its own", async () => {
  const size = { frames: 8, height: 16, width: 16 };
  const first = converter.frames(new Float32Array(3 * 8 * 256).fill(-1), size);
  first.close();
  const second = converter.frames(new Float32Array(3 * 8 * 256).fill(1), size);
  const parts: Uint8Array[] = [];
  for await (const part of second.parts) parts.push(part);
  const bytes = Buffer.concat(parts);
  assert.equal(bytes.length, 8 * 256 * 3);
  assert.ok(bytes.every((b) => b === 255));
});
