import { DataType, GraphBuilder } from "../onnx/graph-builder.js";
import { axis, component, grid, repeatIndex } from "../tiny/graphs.js";
import {
  CHANNELS, FREQUENCY, LEVEL_SCALE, MAX_TOKENS, PATTERN_SCALE, SPATIAL_FACTOR, TEMPORAL_FACTOR, TEXT_DIM, TEXT_GAIN,
  embedding, mixBias, mixWeight, padState,
} from "./spec.js";

const TAU = 2 * Math.PI;
export const toFloat = (g: GraphBuilder, v: string) => g.op("Cast", [v], { to: { int: DataType.FLOAT } });

export interface PaddedEmbedding {
  vocabSize: number;
  dim: number;
  maxTokens: number;
  /** The state at a masked (pad) position l: not zero, as a real encoder's are not. */
  padState: (l: number, d: number) => number;
}

/** [B, L, dim]: E[id] where `mask` is 1, PAD[l] where it is 0 (the replicas' text encoders). */
export function paddedEmbedding(g: GraphBuilder, ids: string, mask: string, o: PaddedEmbedding): string {
  const table = new Float32Array(o.vocabSize * o.dim);
  for (let id = 0; id < o.vocabSize; id++) for (let d = 0; d < o.dim; d++) table[id * o.dim + d] = embedding(id, d);
  const pads = new Float32Array(o.maxTokens * o.dim);
  for (let l = 0; l < o.maxTokens; l++) for (let d = 0; d < o.dim; d++) pads[l * o.dim + d] = o.padState(l, d);
  const emb = g.op("Gather", [g.constant(table, [o.vocabSize, o.dim]), ids], axis(0));
  const length = g.op("Slice", [g.op("Shape", [ids]), g.ints([1]), g.ints([2])]);
  const pad = g.op("Slice", [g.constant(pads, [o.maxTokens, o.dim]), g.ints([0]), length, g.ints([0])]);
  const m = g.op("Unsqueeze", [toFloat(g, mask), g.ints([-1])]);
  return g.op("Add", [g.op("Mul", [emb, m]), g.op("Mul", [pad, g.op("Sub", [g.scalar(1), m])])]);
}

/** input_ids, attention_mask [B, L] -> last_hidden_state [B, L, 16]: E[id] where the mask is 1, PAD[l] where 0. */
export function textEncoderGraph(vocabSize: number): Uint8Array {
  const g = new GraphBuilder("tinywan_text_encoder");
  const ids = g.input("input_ids", DataType.INT64, ["batch", "sequence"]);
  const mask = g.input("attention_mask", DataType.INT64, ["batch", "sequence"]);
  const hidden = paddedEmbedding(g, ids, mask, { vocabSize, dim: TEXT_DIM, maxTokens: MAX_TOKENS, padState });
  g.output(hidden, "last_hidden_state", DataType.FLOAT, ["batch", "sequence", TEXT_DIM]);
  return g.build();
}

/** The prompt's analytic target latent x0 [B, 16, F, H, W] on the grid of `x` (spec.ts), from the text states. */
export function analyticLatent(g: GraphBuilder, x: string, text: string): string {
  const summed = g.op("ReduceSum", [text, g.ints([1])], { keepdims: { int: 0 } });
  const c = g.op("Tanh", [g.op("Mul", [summed, g.scalar(TEXT_GAIN)])]);
  const shape = g.op("Shape", [x]);
  const [t, v, u] = [grid(g, shape, 2), grid(g, shape, 3), grid(g, shape, 4)];
  const scaled = (k: number, s: number) => g.op("Mul", [component(g, c, k), g.scalar(s)]);
  let phase = g.op("Mul", [scaled(0, TAU * FREQUENCY), u]);
  phase = g.op("Add", [phase, g.op("Mul", [scaled(1, TAU * FREQUENCY), v])]);
  phase = g.op("Add", [phase, g.op("Mul", [scaled(2, TAU), t])]);
  const offsets = Float32Array.from({ length: CHANNELS }, (_, k) => (TAU * k) / CHANNELS);
  phase = g.op("Add", [phase, g.constant(offsets, [1, CHANNELS, 1, 1, 1])]);
  const level = g.op("Reshape", [g.op("Mul", [c, g.scalar(LEVEL_SCALE)]), g.ints([-1, CHANNELS, 1, 1, 1])]);
  return g.op("Add", [level, g.op("Mul", [g.op("Sin", [phase]), g.scalar(PATTERN_SCALE)])]);
}

/** The exact flow velocity (x - x0) / sigma toward x0, sigma = timestep / 1000 (float timesteps). */
export function flowVelocity(g: GraphBuilder, x: string, x0: string, timestep: string): string {
  const sigma = g.op("Reshape", [g.op("Max", [g.op("Div", [timestep, g.scalar(1000)]), g.scalar(1e-6)]), g.ints([-1, 1, 1, 1, 1])]);
  return g.op("Div", [g.op("Sub", [x, x0]), sigma]);
}

/**
 * hidden_states f16 [B, 16, F, H, W], timestep int64 [B], encoder_hidden_states f16 [B, L, 16] ->
 * out_sample f16: the exact flow velocity toward the prompt's analytic target (spec.ts).
 */
export function transformerGraph(): Uint8Array {
  const g = new GraphBuilder("tinywan_transformer");
  const latentDims = ["batch", CHANNELS, "num_frames", "height", "width"];
  const x = toFloat(g, g.input("hidden_states", DataType.FLOAT16, latentDims));
  const timestep = toFloat(g, g.input("timestep", DataType.INT64, ["batch"]));
  const text = toFloat(g, g.input("encoder_hidden_states", DataType.FLOAT16, ["batch", "sequence", TEXT_DIM]));
  const velocity = flowVelocity(g, x, analyticLatent(g, x, text), timestep);
  g.output(g.op("Cast", [velocity], { to: { int: DataType.FLOAT16 } }), "out_sample", DataType.FLOAT16, latentDims);
  return g.build();
}

/** latent_sample [1, 16, F, H, W] (denormalised) -> sample float32 [1, 3, 4(F-1)+1, 8H, 8W] in [-1, 1]. */
export function vaeDecoderGraph(): Uint8Array {
  const g = new GraphBuilder("tinywan_vae_decoder");
  const z = g.input("latent_sample", DataType.FLOAT, [1, CHANNELS, "latent_frames", "latent_height", "latent_width"]);
  const weights = new Float32Array(3 * CHANNELS);
  for (let j = 0; j < 3; j++) for (let k = 0; k < CHANNELS; k++) weights[j * CHANNELS + k] = mixWeight(j, k);
  // A 1x1x1 convolution: rgb[j] = sum_k A[j][k] z[k] + b[j].
  const mixed = g.op("Conv", [z, g.constant(weights, [3, CHANNELS, 1, 1, 1]), g.constant(Float32Array.from([0, 1, 2], mixBias), [3])]);
  const rgb = g.op("Tanh", [mixed]);
  const shape = g.op("Shape", [z]);
  const dimOf = (d: number) => g.op("Gather", [shape, g.constant(BigInt64Array.of(BigInt(d)), [])], axis(0));
  const int = (n: number) => g.constant(BigInt64Array.of(BigInt(n)), []);
  const frames = g.op("Add", [g.op("Mul", [g.op("Sub", [dimOf(2), int(1)]), int(TEMPORAL_FACTOR)]), int(1)]);
  const scaledDim = (d: number) => g.op("Mul", [dimOf(d), int(SPATIAL_FACTOR)]);
  let up = g.op("Gather", [rgb, repeatIndex(g, frames, TEMPORAL_FACTOR - 1, TEMPORAL_FACTOR)], axis(2));
  up = g.op("Gather", [up, repeatIndex(g, scaledDim(3), 0, SPATIAL_FACTOR)], axis(3));
  up = g.op("Gather", [up, repeatIndex(g, scaledDim(4), 0, SPATIAL_FACTOR)], axis(4));
  g.output(up, "sample", DataType.FLOAT, [1, 3, "num_frames", "height", "width"]);
  return g.build();
}
