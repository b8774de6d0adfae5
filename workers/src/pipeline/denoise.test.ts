import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { ModelSession } from "../onnx/session-thread.js";
import { DataType, GraphBuilder } from "../onnx/graph-builder.js";
import { denoise } from "./denoise.js";
import type { LatentShape } from "./latent-shape.js";
import { gaussianNoise } from "./noise.js";
import { createSampler } from "./sampler.js";
import { previewLatentFrame } from "../kernels/frame-x0.js";
import type { PreviewSink } from "../preview/preview-sink.js";
import { parseSchedulerConfig } from "./scheduler-config.js";

const SHAPE: LatentShape = { channels: 4, frames: 3, height: 6, width: 8, tokens: 3 * 3 * 4 };
const N = 4 * 3 * 6 * 8;
const TEXT_DIMS = [2, 5, 8];

/**
 * v = 0.01 * x + mean(text states of its batch item), in float32 or with float16 inputs and output as
 * the real exports have. With zero states for the unconditional prompt and ones for the conditional,
 * guidance g gives v = 0.01 x + g.
 */
function transformer(half: boolean, channels = 4): Uint8Array {
  const type = half ? DataType.FLOAT16 : DataType.FLOAT;
  const g = new GraphBuilder("probe_transformer");
  const toFloat = (v: string) => (half ? g.op("Cast", [v], { to: { int: DataType.FLOAT } }) : v);
  const x = toFloat(g.input("hidden_states", type, ["batch", channels, "f", "h", "w"]));
  g.input("timestep", type, ["batch"]);
  const text = toFloat(g.input("encoder_hidden_states", type, ["batch", "seq", 8]));
  const mean = g.op("Reshape", [g.op("ReduceMean", [text], { axes: [1, 2], keepdims: { int: 0 } }), g.ints([-1, 1, 1, 1, 1])]);
  const v = g.op("Add", [g.op("Mul", [x, g.scalar(0.01)]), mean]);
  g.output(half ? g.op("Cast", [v], { to: { int: DataType.FLOAT16 } }) : v, "out_hidden_states", type, ["batch", channels, "f", "h", "w"]);
  return g.build();
}

function textStates(): ort.Tensor {
  const data = new Float32Array(TEXT_DIMS.reduce((a, b) => a * b, 1));
  data.fill(1, data.length / 2); // [uncond = 0, cond = 1]
  return new ort.Tensor("float32", data, TEXT_DIMS);
}

const SCHEDULERS = {
  unipc: { _class_name: "UniPCMultistepScheduler", prediction_type: "flow_prediction", use_flow_sigmas: true, flow_shift: 3 },
  euler: { _class_name: "FlowMatchEulerDiscreteScheduler", shift: 3 },
};

async function sample(half: boolean, raw: object, guidance = 5, preview?: PreviewSink, shape = SHAPE) {
  const session = await ModelSession.open(transformer(half, shape.channels));
  try {
    const { latent } = await denoise({
      transformer: session,
      scheduler: parseSchedulerConfig(raw),
      shape,
      textStates: guidance > 1 ? textStates() : new ort.Tensor("float32", new Float32Array(5 * 8).fill(1), [1, 5, 8]),
      steps: 8,
      guidance,
      seed: 11,
      afterStep: async () => {},
      outputName: "out_hidden_states",
      ...(preview ? { preview } : {}),
    });
    return latent;
  } finally {
    await session.release();
  }
}

/** The same run in plain JS: v = 0.01 x + g (guided) or + 1 (the conditional pass alone). */
function reference(raw: object, guidance: number, shape = SHAPE): Float32Array {
  const size = shape.channels * shape.frames * shape.height * shape.width;
  const sampler = createSampler(parseSchedulerConfig(raw), { steps: 8, size, imageSeqLen: shape.tokens });
  const x = gaussianNoise(size, 11);
  const shiftBy = guidance > 1 ? guidance : 1;
  for (let k = 0; k < 8; k++) sampler.step(k, x, { v: x.map((xi) => 0.01 * xi + shiftBy) });
  return x;
}

/** The reference run's x0 = x - sigma v of the previewed frame at each step, channel-major [C, H * W]. */
function referenceFrames(raw: object, guidance: number): Float32Array[] {
  const sampler = createSampler(parseSchedulerConfig(raw), { steps: 8, size: N, imageSeqLen: SHAPE.tokens });
  const x = gaussianNoise(N, 11);
  const pixels = SHAPE.height * SHAPE.width;
  const frame = previewLatentFrame(SHAPE.frames);
  const frames: Float32Array[] = [];
  for (let k = 0; k < 8; k++) {
    const v = x.map((xi) => 0.01 * xi + guidance);
    const x0 = new Float32Array(SHAPE.channels * pixels);
    for (let c = 0; c < SHAPE.channels; c++) {
      for (let p = 0; p < pixels; p++) {
        const at = (c * SHAPE.frames + frame) * pixels + p;
        x0[c * pixels + p] = x[at]! - sampler.sigmas[k]! * v[at]!;
      }
    }
    frames.push(x0);
    sampler.step(k, x, { v });
  }
  return frames;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

for (const [name, raw] of Object.entries(SCHEDULERS)) {
  test(`${name}: the denoising loop samples the transformer's (guided) velocity with the model's scheduler`, async () => {
    for (const guidance of [5, 1]) {
      const got = await sample(false, raw, guidance);
      assert.ok(maxDiff(got, reference(raw, guidance)) < 1e-4, `guidance ${guidance}: ${maxDiff(got, reference(raw, guidance))}`);
    }
  });

  test(`${name}: a latent of no whole 4-float lanes (sampled beside the loop, not on the session thread) too`, async () => {
    const odd: LatentShape = { channels: 3, frames: 3, height: 5, width: 7, tokens: 3 * 3 * 4 };
    for (const guidance of [5, 1]) {
      const got = await sample(false, raw, guidance, undefined, odd);
      assert.ok(maxDiff(got, reference(raw, guidance, odd)) < 1e-4, `guidance ${guidance}: ${maxDiff(got, reference(raw, guidance, odd))}`);
    }
  });

  test(`${name}: a preview gets the guided x0 estimate of the middle frame at every step it wants`, async () => {
    const offered: { step: number; x0: Float32Array }[] = [];
    const sink: PreviewSink = { wants: (step) => step % 2 === 0, offer: (step, x0) => offered.push({ step, x0: x0.slice() }) };
    await sample(false, raw, 5, sink);
    const want = referenceFrames(raw, 5);
    assert.deepEqual(offered.map((o) => o.step), [2, 4, 6, 8]);
    for (const { step, x0 } of offered) assert.ok(maxDiff(x0, want[step - 1]!) < 1e-4, `step ${step}: ${maxDiff(x0, want[step - 1]!)}`);
  });

  test(`${name}: a float16 transformer is fed and read through the same loop, to float16 accuracy`, async () => {
    const full = await sample(false, raw);
    const half = await sample(true, raw);
    const d = maxDiff(full, half);
    // Latent values of a few units through 8 steps of float16 rounding (2^-11 relative) stay within 0.05.
    assert.ok(d > 0 && d < 0.05, `float16 vs float32 max |d| = ${d}`);
  });
}
