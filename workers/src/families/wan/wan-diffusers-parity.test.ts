import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { inspectModel, WAN_NEGATIVE_PROMPT, type EffectiveParams } from "@videosdgx/shared";
import { makeTempDir, sharedExport } from "@videosdgx/shared/testing";
import { loadModel, type LoadedModel } from "../../runtime/loaded-model.js";
import { exporterCli as python, levels, noStages } from "../diffusers-parity.js";
import { latentShape, latentSize } from "../../pipeline/latent-shape.js";
import { gaussianNoise } from "../../pipeline/noise.js";

/**
 * The proof that a real Wan export makes the right video: diffusers' own Wan 2.1 classes at tiny sizes
 * with seeded weights (exporter/ builds them: `replica`), exported by the project's exporter (the export
 * pytest checks too, made once per run: exporter/tests/shared_exports.py), run by our
 * `wan` family pipeline and by diffusers' WanPipeline in PyTorch from the same initial latents (the
 * platform's seeded noise, handed to diffusers as `latents=`), the same prompt, negative prompt, steps
 * and guidance. Frames are compared as uint8, what both pipelines hand to the encoder.
 */
const PARAMS: EffectiveParams = {
  model: "wantiny", prompt: "a red cat walking on the beach at sunset", negative_prompt: WAN_NEGATIVE_PROMPT,
  width: 64, height: 48, num_frames: 9, fps: 16, duration_s: 9 / 16, steps: 4, guidance: 5, seed: 7,
};

let dir: string;
let remove: () => Promise<void>;
let model: LoadedModel | undefined;
let reference: { frames: Uint8Array; doc: { prompt_token_ids: number[]; timesteps: number[] } };

before(async () => {
  ({ dir, remove } = await makeTempDir("wanparity"));
  const { checkpoint: ckpt, modelsDir, name } = await sharedExport("wan");
  assert.equal(name, PARAMS.model);
  const state = await inspectModel(modelsDir, name);
  assert.ok(state.installed, state.installed ? "" : state.reason);
  const shape = latentShape(state.manifest, PARAMS.num_frames, PARAMS.width, PARAMS.height);
  await writeFile(path.join(dir, "noise.f32"), gaussianNoise(latentSize(shape), PARAMS.seed));
  await python(
    "reference", "--from", ckpt, "--out", path.join(dir, "ref"), "--latents", path.join(dir, "noise.f32"),
    "--prompt", PARAMS.prompt, "--negative-prompt", PARAMS.negative_prompt!, "--size", `${PARAMS.width}x${PARAMS.height}`,
    "--frames", String(PARAMS.num_frames), "--steps", String(PARAMS.steps), "--guidance", String(PARAMS.guidance),
  );
  const doc = JSON.parse(await readFile(path.join(dir, "ref/reference.json"), "utf8"));
  reference = { doc, frames: new Uint8Array(await readFile(path.join(dir, "ref", doc.tensors.frames_uint8.file))) };
  model = await loadModel(modelsDir, name, {});
});
after(async () => {
  await model?.release();
  await remove?.();
});

test("our wan pipeline on the exported folder makes diffusers' WanPipeline frames", async (t) => {
  const frames = await model!.pipeline.render(PARAMS, noStages);
  assert.equal(frames.length, PARAMS.num_frames * PARAMS.height * PARAMS.width * 3);
  const { max, offByOne } = levels(frames, reference.frames);
  t.diagnostic(`largest difference ${max} level(s); ${(offByOne * 100).toFixed(3)}% of values one level off`);
  // Both runs are float32 through the same graphs; the exporter's own Python run of this folder is within
  // 3e-6 of diffusers (about 1e-3 of a level). What remains can only move a value that sits on a rounding
  // boundary to the next level: at most one level, on a small fraction of the values.
  assert.ok(max <= 1 && offByOne < 0.01, `max ${max} levels, ${(offByOne * 100).toFixed(2)}% of values one level off`);
  const [lo, hi] = reference.frames.reduce(([l, h], p) => [Math.min(l, p), Math.max(h, p)], [255, 0]);
  assert.ok(hi - lo > 30, `the reference video has structure (${lo}..${hi}), so agreeing means something`);
});

test("and a different seed, so different noise, gives a different video", async () => {
  const frames = await model!.pipeline.render({ ...PARAMS, seed: PARAMS.seed + 1 }, noStages);
  assert.ok(levels(frames, reference.frames).max > 5);
});
