import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { gaussianNoise } from "./noise.js";
import { createRgbConverter } from "./rgb-frames-graph.js";
import { videoToRgb } from "./video-frames.js";

test("the RGB graph gives videoToRgb's bytes exactly, halves and clamping included", async () => {
  const size = { frames: 5, height: 24, width: 40 };
  const n = 3 * size.frames * size.height * size.width;
  const video = gaussianNoise(n, 9).map((v) => v * 0.8);
  // Values whose level is exactly k + 0.5 (rounded to even) and values beyond [-1, 1].
  for (let i = 0; i < 512; i++) video[i] = ((i % 256) + 0.5) / 127.5 - 1;
  video[600] = -3;
  video[601] = 3;
  const converter = await createRgbConverter();
  try {
    const got = await converter.toRgb(new ort.Tensor("float32", video, [1, 3, size.frames, size.height, size.width]));
    assert.deepEqual(Buffer.from(got), Buffer.from(videoToRgb(video, size)));
  } finally {
    await converter.release();
  }
});
