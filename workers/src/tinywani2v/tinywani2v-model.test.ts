import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { inspectModel, JobFailure, WAN_NEGATIVE_PROMPT, type EffectiveParams } from "@videosdgx/shared";
import { blockPattern, encodeTestImage } from "@videosdgx/shared/testing";
import path from "node:path";
import { frameDiff, generatedModelFixture, timedRun as run } from "../runtime/model-fixture.js";
import { coverFit, decodeImageRgb } from "../pipeline/image-decode.js";
import { tinyWanTargetFrames } from "../tinywan/reference.js";
import { generateTinyWanI2vModel } from "./generate.js";
import { tinyWanI2vFirstFrame } from "./reference.js";

const fixture = generatedModelFixture("tinywani2v", (dir) => generateTinyWanI2vModel(dir));

const [W, H] = [64, 48];
const PARAMS: EffectiveParams = {
  model: "tinywani2v", prompt: "a red fox running through a snowy forest", negative_prompt: WAN_NEGATIVE_PROMPT,
  width: W, height: H, num_frames: 9, fps: 16, duration_s: 9 / 16, steps: 10, guidance: 5, seed: 3,
};
const frameBytes = W * H * 3;
const firstFrame = (frames: Uint8Array) => frames.subarray(0, frameBytes);

test("the generated folder is a complete wan i2v model: a 36-channel transformer with image states, both encoders", async () => {
  const state = await inspectModel(fixture.dir, "tinywani2v");
  assert.ok(state.installed, state.installed ? "" : state.reason);
  assert.equal(state.manifest.capabilities.i2v, true);
  const session = await ort.InferenceSession.create(path.join(fixture.dir, "tinywani2v/transformer/model.onnx"));
  const types = Object.fromEntries(session.inputMetadata.map((m) => [m.name, m.isTensor ? m.type : "?"]));
  const hidden = session.inputMetadata.find((m) => m.name === "hidden_states");
  await session.release();
  assert.deepEqual(types, { hidden_states: "float16", timestep: "int64", encoder_hidden_states: "float16", encoder_hidden_states_image: "float16" });
  assert.equal(hidden?.isTensor && hidden.shape[1], 36, "16 noise + 4 mask + 16 condition channels");
});

test("a PNG at the job's size: the first frame is the image (8x8 cell means), the rest follows the prompt", async () => {
  const model = await fixture.load("tinywani2v");
  const rgb = blockPattern(W, H, 8);
  const frames = await model.pipeline.render(PARAMS, run(), { image: await encodeTestImage(rgb, W, H, "png") });
  const first = frameDiff(firstFrame(frames), tinyWanI2vFirstFrame(rgb, W, H));
  // Left over: float16 at the transformer's input (the condition, about 1e-3 of a value) and the
  // integer timesteps, as for tinywan; pixels of 0 and 255 sit where tanh is flat, so they move least.
  assert.ok(first.max <= 2 && first.mean < 0.5, `first frame: max ${first.max}, mean ${first.mean.toFixed(3)} levels off the image`);
  assert.ok(frameDiff(firstFrame(frames), rgb).mean < 0.5, "8x8-constant blocks: the image itself");
  // Later frames are the prompt's video plus the image states' level: not the image, and not tinywan's video.
  const later = frames.subarray(frameBytes * 5, frameBytes * 6);
  assert.ok(frameDiff(later, rgb).mean > 20, "the video moves on from the image");
  const t2v = tinyWanTargetFrames({ prompt: PARAMS.prompt, negativePrompt: PARAMS.negative_prompt, guidance: 5, numFrames: 9, width: W, height: H });
  assert.ok(frameDiff(later, t2v.subarray(frameBytes * 5, frameBytes * 6)).mean > 1, "the image encoder's states reach the transformer");
});

test("a JPEG of another aspect ratio is scaled to cover the job's size and centre-cropped", async () => {
  const model = await fixture.load("tinywani2v");
  // Twice the job's size with 16 px blocks, between 32 px red margins left and right: scaled by 1/2,
  // the crop removes the margins and leaves 8 px blocks.
  const rgb = blockPattern(2 * W, 2 * H, 16, { x: 32, y: 0 });
  const jpeg = await encodeTestImage(rgb, 2 * W + 64, 2 * H, "jpeg");
  const frames = await model.pipeline.render(PARAMS, run(), { image: jpeg });
  const expected = blockPattern(W, H, 8);
  const { mean } = frameDiff(firstFrame(frames), tinyWanI2vFirstFrame(expected, W, H));
  // JPEG's loss and Lanczos' ringing at the 16 px block edges move cell means by a few levels.
  assert.ok(mean < 4, `mean ${mean.toFixed(2)} levels off the cropped image`);
  const red = firstFrame(frames).subarray(0, 3);
  assert.ok(!(red[0]! > 200 && red[1]! < 60 && red[2]! < 60), `the margin was cropped away (top-left pixel ${[...red]})`);
  // What the platform decoded is exactly the cover fit ffmpeg gives.
  assert.equal((await decodeImageRgb(jpeg, coverFit(W, H))).length, frameBytes);
});

test("a job without its image, or with bytes that are not an image, fails with a reason", async () => {
  const model = await fixture.load("tinywani2v");
  await assert.rejects(model.pipeline.render(PARAMS, run()), (err: unknown) => err instanceof JobFailure && err.code === "invalid_job_data");
  const broken = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64)]);
  await assert.rejects(model.pipeline.render(PARAMS, run(), { image: broken }), (err: unknown) => {
    assert.ok(err instanceof JobFailure && err.code === "invalid_image", String(err));
    assert.match(err.message, /cannot be decoded/);
    return true;
  });
});
