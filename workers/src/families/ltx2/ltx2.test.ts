import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";
import { gaussianNoise } from "../../pipeline/noise.js";
import { parseSchedulerConfig } from "../../pipeline/scheduler-config.js";
import { tokenizeToContext } from "../../pipeline/tokenize.js";
import { tinyTokenizerConfig, tinyTokenizerJson } from "../../tiny/tokenizer-json.js";
import { audioCoords, videoCoords } from "./coords.js";
import { X0Guidance, type X0Passes, type X0Scales } from "./guidance.js";
import { guidancePasses } from "./joint-denoise.js";
import { packAudio, packVideo, unpackAudio, unpackVideo } from "./latents.js";
import { audioLatentFrames, ltx2Samplers, ltx2Sigmas } from "./ltx2-family.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** diffusers' own runs of LTX2Pipeline's schedule (testdata/make-ltx2-schedule-cases.py). */
const CASES = path.resolve(here, "..", "..", "..", "src", "families", "ltx2", "testdata", "ltx2-diffusers-cases.json");

/**
 * LTX2Pipeline's guidance restated line by line as diffusers writes it (x0 per pass, deltas, then
 * rescale_noise_cfg with torch.std's N - 1, then back to a velocity), in float64 with two-pass statistics.
 */
function reference(x: Float32Array, sigma: number, p: X0Passes, s: X0Scales): Float64Array {
  const x0 = (v: Float32Array) => Float64Array.from(x, (xi, i) => xi - v[i]! * sigma);
  const c = x0(p.cond);
  const g = Float64Array.from(c);
  const delta = (k: number, other: Float32Array | undefined) => {
    if (!other) return;
    const o = x0(other);
    for (let i = 0; i < g.length; i++) g[i]! += k * (c[i]! - o[i]!);
  };
  delta(s.guidance - 1, p.uncond);
  delta(s.stg, p.perturbed);
  delta(s.modality - 1, p.isolated);
  let out = g;
  if (s.rescale > 0) {
    const std = (a: Float64Array) => {
      const m = a.reduce((t, v) => t + v, 0) / a.length;
      return Math.sqrt(a.reduce((t, v) => t + (v - m) ** 2, 0) / (a.length - 1));
    };
    const rescaled = g.map((v) => v * (std(c) / std(g)));
    out = g.map((v, i) => s.rescale * rescaled[i]! + (1 - s.rescale) * v);
  }
  return out.map((v, i) => (x[i]! - v) / sigma);
}

test("x0-space guidance matches diffusers' formulas for every combination of passes", () => {
  // Not a whole number of 4-float lanes: the kernel's padding must add nothing.
  const n = 501;
  const x = gaussianNoise(n, 1);
  const pass = (seed: number, scale: number) => Float32Array.from(gaussianNoise(n, seed), (v, i) => scale * v + x[i]!);
  const all: X0Passes = { cond: pass(2, 0.5), uncond: pass(3, 0.7), perturbed: pass(4, 0.6), isolated: pass(5, 0.4) };
  const scales: X0Scales = { guidance: 3, stg: 1, modality: 3, rescale: 0.7 };
  const cases: [string, X0Passes, X0Scales][] = [
    ["every pass, rescale 0.7", all, scales],
    ["CFG only", { cond: all.cond, uncond: all.uncond }, { ...scales, rescale: 0 }],
    ["CFG with rescale 1", { cond: all.cond, uncond: all.uncond }, { ...scales, rescale: 1 }],
    ["STG and modality without CFG", { cond: all.cond, perturbed: all.perturbed, isolated: all.isolated }, scales],
    ["guidance below 1 pushes toward the negative", { cond: all.cond, uncond: all.uncond }, { ...scales, guidance: 0.5 }],
  ];
  // One kernel for every case, as for a run's steps: a pass that ran before must not leak into one without it.
  const guidance = new X0Guidance(n);
  for (const sigma of [0.97, 0.3, 0.05]) {
    for (const [name, passes, s] of cases) {
      const latent = Float32Array.from(x);
      const sigmaNext = sigma * 0.8;
      const { before, velocity } = guidance.step(latent, sigma, sigmaNext, passes, s);
      const want = reference(x, sigma, passes, s);
      const err = velocity.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i]!) / (1 + Math.abs(want[i]!))), 0);
      assert.ok(err < 2e-5, `${name} at sigma ${sigma}: off by ${err}`);
      assert.deepEqual(before, x, "the latent the step started from");
      // The Euler step of FlowMatchEulerDiscreteScheduler along that velocity.
      const stepErr = latent.reduce((m, v, i) => Math.max(m, Math.abs(v - (x[i]! + (sigmaNext - sigma) * want[i]!))), 0);
      assert.ok(stepErr < 2e-5, `${name} at sigma ${sigma}: the step is off by ${stepErr}`);
    }
  }
  // The passes' buffers are read, never written: the next pass of a step may still use them.
  assert.deepEqual(all.cond, pass(2, 0.5));
});

test("which passes run follows diffusers' switches, either modality's scale turning a pass on", () => {
  const off: X0Scales = { guidance: 1, stg: 0, modality: 1, rescale: 0 };
  assert.deepEqual(guidancePasses(off, off), { cfg: false, stg: false, modality: false });
  assert.deepEqual(guidancePasses(off, { ...off, guidance: 7 }), { cfg: true, stg: false, modality: false });
  assert.deepEqual(guidancePasses({ ...off, stg: 1 }, off), { cfg: false, stg: true, modality: false });
  assert.deepEqual(guidancePasses(off, { ...off, modality: 3 }), { cfg: false, stg: false, modality: true });
});

test("the schedule is LTX2Pipeline's: diffusers' timesteps and probe runs on linspace(1, 1/N, N) with the dynamic shift", async () => {
  const cases = JSON.parse(await readFile(CASES, "utf8")) as Record<string, {
    config: unknown; steps: number; n: number; seq_len: number; sigmas_in: number[]; timesteps: number[]; sigmas: number[]; final: number[];
  }>;
  assert.ok(Object.keys(cases).length >= 3);
  for (const [name, c] of Object.entries(cases)) {
    const sigmas = ltx2Sigmas(c.steps);
    assert.ok(sigmas.every((s, i) => Math.fround(s) === Math.fround(c.sigmas_in[i]!)), `${name}: the pipeline's sigmas`);
    const { video } = ltx2Samplers(parseSchedulerConfig(c.config), c.steps, c.seq_len);
    assert.deepEqual(Array.from(video.timesteps), c.timesteps.map(Math.fround), `${name}: timesteps`);
    assert.ok(c.sigmas.every((s, i) => Math.abs(video.sigmas[i]! - s) < 1e-7), `${name}: sigmas`);
    // The probe ODE of the golden README through our Euler sampler.
    const x = Float32Array.from({ length: c.n }, (_, i) => Math.sin(0.37 * i + 0.1));
    const v = new Float32Array(c.n);
    for (let k = 0; k < c.steps; k++) {
      const t = video.timesteps[k]!;
      for (let i = 0; i < c.n; i++) v[i] = 0.3 * x[i]! - Math.cos(0.01 * t + 0.1 * i);
      video.step(k, x, { v });
    }
    const off = c.final.reduce((m, f, i) => Math.max(m, Math.abs(f - x[i]!)), 0);
    assert.ok(off <= 1e-5, `${name}: final latent off by ${off}`);
  }
});

test("the audio latents get their own scheduler, on the video's schedule", () => {
  const config = parseSchedulerConfig({ use_dynamic_shifting: true, base_shift: 0.95, max_shift: 2.05, base_image_seq_len: 1024, shift_terminal: 0.1 });
  const { video, audio } = ltx2Samplers(config, 8, 160);
  assert.notEqual(video, audio);
  assert.deepEqual(Array.from(audio.sigmas), Array.from(video.sigmas));
  // Stepping the video leaves the audio's state alone: each reaches its own target by its own velocities.
  const [xv, xa] = [Float32Array.of(1, -1), Float32Array.of(0.5, 2)];
  const [tv, ta] = [Float32Array.of(0.3, 0.2), Float32Array.of(-0.4, 0.9)];
  for (let i = 0; i < 8; i++) {
    const s = video.sigmas[i]!;
    video.step(i, xv, { v: xv.map((x, k) => (x - tv[k]!) / s) });
    audio.step(i, xa, { v: xa.map((x, k) => (x - ta[k]!) / s) });
  }
  assert.ok(xv.every((x, k) => Math.abs(x - tv[k]!) < 1e-6) && xa.every((x, k) => Math.abs(x - ta[k]!) < 1e-6));
  assert.throws(() => ltx2Samplers(parseSchedulerConfig({ _class_name: "UniPCMultistepScheduler", prediction_type: "flow_prediction", use_flow_sigmas: true }), 8, 1), /FlowMatchEulerDiscreteScheduler/);
});

test("coords are the reference's: causal first frame, seconds by fps, pixel bounds; audio in mel seconds", () => {
  const grid = { channels: 1, frames: 3, height: 2, width: 2 };
  const c = videoCoords(grid, { temporal: 8, spatial: 32 }, 24);
  const tokens = 12;
  const at = (axis: number, s: number) => [c[(axis * tokens + s) * 2], c[(axis * tokens + s) * 2 + 1]];
  // Token (f, h, w) = (1, 0, 1) is index 5: frames [8*1+1-8, 8*2+1-8) / 24, rows [0, 32), columns [32, 64).
  assert.deepEqual(at(0, 5), [Math.fround(1 / 24), Math.fround(9 / 24)]);
  assert.deepEqual(at(0, 0), [0, Math.fround(1 / 24)]);
  assert.deepEqual(at(1, 5), [0, 32]);
  assert.deepEqual(at(2, 5), [32, 64]);
  const a = audioCoords(3, 4, 160, 16000);
  assert.deepEqual(Array.from(a), [0, 0.01, 0.01, 0.05, 0.05, 0.09].map(Math.fround));
});

test("packing (patch 1) is diffusers' layout and round-trips", () => {
  const grid = { channels: 3, frames: 2, height: 2, width: 2 };
  const latent = Float32Array.from({ length: 24 }, (_, i) => i);
  const packed = packVideo(latent, grid);
  // Token s holds every channel's value at s: [C, S] transposed.
  assert.deepEqual(Array.from(packed.subarray(0, 6)), [0, 8, 16, 1, 9, 17]);
  assert.deepEqual(unpackVideo(packed, grid), latent);
  const audioGrid = { channels: 2, frames: 3, bins: 2 };
  const audio = Float32Array.from({ length: 12 }, (_, i) => i);
  // [C, L, M] -> [L, C*M]: frame 0 holds channel 0's bins, then channel 1's.
  assert.deepEqual(Array.from(packAudio(audio, audioGrid).subarray(0, 4)), [0, 1, 6, 7]);
  assert.deepEqual(unpackAudio(packAudio(audio, audioGrid), audioGrid), audio);
});

test("audio latent frames round as Python does, and Gemma prompts are padded on the left", () => {
  assert.equal(audioLatentFrames(121, 24, 16000, 160), 126);
  // 1 frame at 50 fps is 0.5 latent frames: Python's round gives 0, 3 frames give 1.5 -> 2.
  assert.equal(audioLatentFrames(1, 50, 16000, 160), 0);
  assert.equal(audioLatentFrames(3, 50, 16000, 160), 2);
  const tokenizer = new Tokenizer(tinyTokenizerJson(), tinyTokenizerConfig());
  const { ids, mask } = tokenizeToContext(tokenizer, ["a red fox"], 8, "left");
  assert.deepEqual(Array.from(mask, Number), [0, 0, 0, 0, 0, 1, 1, 1]);
  assert.equal(ids[0], 0n);
  assert.notEqual(ids[7], 0n);
});
