import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { inspectModel, WAN_NEGATIVE_PROMPT, type EffectiveParams } from "@videosdgx/shared";
import { encodeTestImage, makeTempDir, sharedExport } from "@videosdgx/shared/testing";
import { loadModel, type LoadedModel } from "../../runtime/loaded-model.js";
import { latentShape, latentSize } from "../../pipeline/latent-shape.js";
import { gaussianNoise } from "../../pipeline/noise.js";
import { exporterCli as python, levels, noStages } from "../diffusers-parity.js";

/**
 * Image to video against diffusers' WanImageToVideoPipeline: its own classes at tiny sizes (a 36-channel
 * transformer with image attention, a 2-layer CLIP vision tower, CLIP's image processor; `replica --i2v`),
 * exported by the project's exporter (shared with pytest: exporter/tests/shared_exports.py), run by our `wan` family and by diffusers in PyTorch from the same
 * initial latents, prompt, image, steps and guidance. The job is 224x224 and so is the image: CLIP's
 * resize and crop and the VAE's resize leave it as it is in both pipelines (PIL and ffmpeg resample
 * differently; with nothing to resample, the comparison is of the pipelines, not of the kernels).
 */
const SIZE = 224;
const PARAMS: EffectiveParams = {
  model: "wantinyi2v", prompt: "a paper boat on a pond", negative_prompt: WAN_NEGATIVE_PROMPT,
  width: SIZE, height: SIZE, num_frames: 5, fps: 16, duration_s: 5 / 16, steps: 3, guidance: 5, seed: 11,
};

/** A smooth picture with a few edges: structure for the encoders to see. */
function picture(): Uint8Array {
  const rgb = new Uint8Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const disc = (x - 80) ** 2 + (y - 120) ** 2 < 50 ** 2;
      rgb.set([disc ? 230 : x, disc ? 40 : y, disc ? 60 : 255 - ((x + y) >> 1)], (y * SIZE + x) * 3);
    }
  }
  return rgb;
}

let dir: string;
let remove: () => Promise<void>;
let model: LoadedModel | undefined;
let image: Buffer;
let reference: Uint8Array;

before(async () => {
  ({ dir, remove } = await makeTempDir("wanparityi2v"));
  const { checkpoint: ckpt, modelsDir, name } = await sharedExport("wan-i2v");
  assert.equal(name, PARAMS.model);
  const state = await inspectModel(modelsDir, name);
  assert.ok(state.installed, state.installed ? "" : state.reason);
  assert.equal(state.manifest.capabilities.i2v, true);
  const shape = latentShape(state.manifest, PARAMS.num_frames, PARAMS.width, PARAMS.height);
  await writeFile(path.join(dir, "noise.f32"), gaussianNoise(latentSize(shape), PARAMS.seed));
  image = await encodeTestImage(picture(), SIZE, SIZE, "png");
  await writeFile(path.join(dir, "image.png"), image);
  await python(
    "reference", "--from", ckpt, "--out", path.join(dir, "ref"), "--latents", path.join(dir, "noise.f32"), "--image", path.join(dir, "image.png"),
    "--prompt", PARAMS.prompt, "--negative-prompt", PARAMS.negative_prompt, "--size", `${SIZE}x${SIZE}`,
    "--frames", String(PARAMS.num_frames), "--steps", String(PARAMS.steps), "--guidance", String(PARAMS.guidance),
  );
  const doc = JSON.parse(await readFile(path.join(dir, "ref/reference.json"), "utf8"));
  reference = new Uint8Array(await readFile(path.join(dir, "ref", doc.tensors.frames_uint8.file)));
  model = await loadModel(modelsDir, name, {});
});
after(async () => {
  await model?.release();
  await remove?.();
});

test("our wan i2v pipeline on the exported folder makes diffusers' WanImageToVideoPipeline frames", async (t) => {
  const frames = await model!.pipeline.render(PARAMS, noStages, { image });
  const { max, offByOne } = levels(frames, reference);
  t.diagnostic(`largest difference ${max} level(s); ${(offByOne * 100).toFixed(3)}% of values one level off`);
  // As for text to video: float32 through the same graphs, so only values on a rounding boundary move.
  assert.ok(max <= 1 && offByOne < 0.01, `max ${max} levels, ${(offByOne * 100).toFixed(2)}% of values one level off`);
  const [lo, hi] = reference.reduce(([l, h], p) => [Math.min(l, p), Math.max(h, p)], [255, 0]);
  assert.ok(hi - lo > 30, `the reference video has structure (${lo}..${hi})`);
});

test("another image gives another video: the image conditions it", async () => {
  const other = await encodeTestImage(picture().map((v) => 255 - v), SIZE, SIZE, "png");
  assert.ok(levels(await model!.pipeline.render(PARAMS, noStages, { image: other }), reference).max > 5);
});
