import assert from "node:assert/strict";
import { cp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import ort from "onnxruntime-node";
import { inspectModel, WAN_NEGATIVE_PROMPT, type EffectiveParams } from "@videosdgx/shared";
import { makeTempDir } from "@videosdgx/shared/testing";
import { loadModel, type LoadedModel } from "../runtime/loaded-model.js";
import { frameDiff as compare, timedRun as run } from "../runtime/model-fixture.js";
import { generateTinyWanModel, isTinyWanModelCurrent, tinyWanVaeConfig } from "./generate.js";
import { tinyWanTargetFrames } from "./reference.js";
import { LATENTS_MEAN, LATENTS_STD } from "./spec.js";

let dir: string;
let remove: () => Promise<void>;
const loaded: LoadedModel[] = [];
before(async () => {
  ({ dir, remove } = await makeTempDir("tinywan"));
  await generateTinyWanModel(path.join(dir, "tinywan"));
});
after(async () => {
  await Promise.all(loaded.map((m) => m.release()));
  await remove();
});

async function load(name: string): Promise<LoadedModel> {
  const model = await loadModel(dir, name, {});
  loaded.push(model);
  return model;
}

const PARAMS: EffectiveParams = {
  model: "tinywan", prompt: "a red fox running through a snowy forest", negative_prompt: WAN_NEGATIVE_PROMPT,
  width: 64, height: 48, num_frames: 9, fps: 16, duration_s: 9 / 16, steps: 10, guidance: 5, seed: 3,
};

const targetOf = (p: EffectiveParams, stats: { mean?: number[]; std?: number[] } = {}) =>
  tinyWanTargetFrames({ prompt: p.prompt, negativePrompt: p.negative_prompt, guidance: p.guidance, numFrames: p.num_frames, width: p.width, height: p.height, ...stats });

test("the generated folder is a complete, current wan-family model with Wan's UniPC config", async () => {
  const state = await inspectModel(dir, "tinywan");
  assert.ok(state.installed, state.installed ? "" : state.reason);
  assert.equal(state.manifest.family, "wan");
  assert.ok(await isTinyWanModelCurrent(path.join(dir, "tinywan")));
  const scheduler = JSON.parse(await readFile(path.join(dir, "tinywan/scheduler/scheduler_config.json"), "utf8"));
  assert.equal(scheduler._class_name, "UniPCMultistepScheduler");
  // The transformer is float16 at its boundary with int64 timesteps, as a real fp16 export.
  const session = await ort.InferenceSession.create(path.join(dir, "tinywan/transformer/model.onnx"));
  const types = Object.fromEntries([...session.inputMetadata, ...session.outputMetadata].map((m) => [m.name, m.isTensor ? m.type : "?"]));
  await session.release();
  assert.deepEqual(types, { hidden_states: "float16", timestep: "int64", encoder_hidden_states: "float16", out_sample: "float16" });
});

test("UniPC with guidance through the float16 transformer lands on the analytic target", async () => {
  const model = await load("tinywan");
  const frames = await model.pipeline.render(PARAMS, run());
  const { max, mean } = compare(frames, targetOf(PARAMS));
  // Left over: float16 rounding of the latent at the transformer's input (about 1e-3 of a value) and the
  // integer timesteps (the velocity's sigma is trunc(1000 sigma) / 1000): well under a level on average.
  assert.ok(max <= 2 && mean < 0.5, `max ${max}, mean ${mean.toFixed(3)} levels off the target`);
  const other = compare(frames, targetOf({ ...PARAMS, prompt: "a blue ocean wave at night" }));
  assert.ok(other.mean > 10, `another prompt's target is only ${other.mean.toFixed(2)} levels away`);
  const [lo, hi] = frames.reduce(([l, h], p) => [Math.min(l, p), Math.max(h, p)], [255, 0]);
  assert.ok(hi - lo > 60, `the video has visible structure (${lo}..${hi})`);
});

test("the text states are cut to each prompt's length and zero-padded (the encoder's pad states never count)", async () => {
  const model = await load("tinywan");
  const p = { ...PARAMS, guidance: 1 };
  const frames = await model.pipeline.render(p, run());
  assert.ok(compare(frames, targetOf(p)).max <= 2);
  // What the video would be with the encoder's own pad states: the target of c summed over every position.
  // The reference with zero-padding and this video agree; a pipeline that kept the pad states could not.
  const session = await ort.InferenceSession.create(path.join(dir, "tinywan/text_encoder/model.onnx"));
  const out = await session.run({
    input_ids: new ort.Tensor("int64", new BigInt64Array(64), [1, 64]),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(64), [1, 64]),
  });
  await session.release();
  const pads = out.last_hidden_state!.data as Float32Array;
  assert.ok(pads.some((v) => Math.abs(v) > 0.1), "the encoder's states at masked positions are not zero");
});

test("the default negative prompt is what guidance pushes away from", async () => {
  const model = await load("tinywan");
  const frames = await model.pipeline.render(PARAMS, run());
  const withEmpty = compare(frames, targetOf({ ...PARAMS, negative_prompt: "" }));
  assert.ok(withEmpty.mean > 5, `the empty negative prompt's target is only ${withEmpty.mean.toFixed(2)} levels away`);
});

test("denormalisation uses vae_decoder/config.json's latents_mean and latents_std", async () => {
  await cp(path.join(dir, "tinywan"), path.join(dir, "tinywanstats"), { recursive: true });
  const manifestFile = path.join(dir, "tinywanstats/videosdgx.json");
  await writeFile(manifestFile, (await readFile(manifestFile, "utf8")).replace('"name": "tinywan"', '"name": "tinywanstats"'));
  const mean = LATENTS_MEAN.map((m, k) => m + (k % 3 === 0 ? 1.5 : -0.8));
  const std = LATENTS_STD.map((s, k) => s * (k % 2 === 0 ? 0.5 : 1.6));
  await writeFile(path.join(dir, "tinywanstats/vae_decoder/config.json"), JSON.stringify(tinyWanVaeConfig(mean, std)));
  const p = { ...PARAMS, model: "tinywanstats" };
  const frames = await (await load("tinywanstats")).pipeline.render(p, run());
  assert.ok(compare(frames, targetOf(p, { mean, std })).max <= 2, "matches the target computed with the new numbers");
  assert.ok(compare(frames, targetOf(p)).mean > 5, "and is far from the one with the old numbers");
});
