import { DataType, GraphBuilder } from "../onnx/graph-builder.js";
import { axis } from "../tiny/graphs.js";
import {
  CHANNELS, CHUNK_WIDTH, CONTEXT_GAIN, FREQUENCY, LEVEL_SCALE, PATTERN_SCALE, SPATIAL_FACTOR, TEMPORAL_FACTOR, TEXT_DIM, TEXT_GAIN,
  mixWeight, nullCaption,
} from "./spec.js";

const TAU = 2 * Math.PI;
const toFloat = (g: GraphBuilder, v: string) => g.op("Cast", [v], { to: { int: DataType.FLOAT } });
const dim = (g: GraphBuilder, shape: string, d: number) => g.op("Gather", [shape, g.constant(BigInt64Array.of(BigInt(d)), [])], axis(0));
/** A value per batch item and chunk [B, n] (or [B, n, 1]) shaped to broadcast over [B, n, 16, cw, h, w]. */
const perChunk = (g: GraphBuilder, v: string) => g.op("Reshape", [v, g.ints([0, 0, 1, 1, 1, 1])]);

/** Cell centres (i + 0.5) / size along dimension `d` of a rank-6 tensor, shaped to broadcast. */
function centres(g: GraphBuilder, size: string, d: number): string {
  const index = toFloat(g, g.op("Range", [g.constant(BigInt64Array.of(0n), []), size, g.constant(BigInt64Array.of(1n), [])]));
  const coord = g.op("Div", [g.op("Add", [index, g.scalar(0.5)]), toFloat(g, size)]);
  const target = [1, 1, 1, 1, 1, 1];
  target[d] = -1;
  return g.op("Reshape", [coord, g.ints(target)]);
}

/**
 * hidden_states f16 [B, 16, n cw, h, w], timestep f32 [B, n], encoder_hidden_states f16 [B, L, 16],
 * encoder_attention_mask int64 [B, L], caption_dropout bool [B, n], kv_range int64 [B, n, 2],
 * slice_point int64 [1] -> velocity f16 [B, 16, n cw, h, w]: exact toward the target of spec.ts.
 */
export function transformerGraph(): Uint8Array {
  const g = new GraphBuilder("tinymagi_transformer");
  const latentDims = ["batch", CHANNELS, "latent_frames", "height", "width"];
  const x = toFloat(g, g.input("hidden_states", DataType.FLOAT16, latentDims));
  const timestep = g.input("timestep", DataType.FLOAT, ["batch", "chunks"]);
  const text = toFloat(g, g.input("encoder_hidden_states", DataType.FLOAT16, ["batch", "sequence", TEXT_DIM]));
  const mask = toFloat(g, g.input("encoder_attention_mask", DataType.INT64, ["batch", "sequence"]));
  const dropout = toFloat(g, g.input("caption_dropout", DataType.BOOL, ["batch", "chunks"]));
  const kv = g.input("kv_range", DataType.INT64, ["batch", "chunks", 2]);
  g.input("slice_point", DataType.INT64, [1]);

  // [B, 16, n cw, h, w] -> [B, n, 16, cw, h, w]: one block per chunk.
  const shape = g.op("Shape", [x]);
  const chunked = g.op("Concat", [g.op("Slice", [shape, g.ints([0]), g.ints([2])]), g.ints([-1, CHUNK_WIDTH]), g.op("Slice", [shape, g.ints([3]), g.ints([5])])], axis(0));
  const xs = g.op("Transpose", [g.op("Reshape", [x, chunked])], { perm: [0, 2, 1, 3, 4, 5] });

  // The context each chunk sees: the mean of the chunks in its kv range before itself.
  const chunks = dim(g, g.op("Shape", [timestep]), 1);
  const m = g.op("Reshape", [g.op("Range", [g.constant(BigInt64Array.of(0n), []), chunks, g.constant(BigInt64Array.of(1n), [])]), g.ints([1, 1, -1])]);
  const start = g.op("Gather", [kv, g.constant(BigInt64Array.of(0n), [1])], axis(2));
  const end = g.op("Gather", [kv, g.constant(BigInt64Array.of(1n), [1])], axis(2));
  const before = g.op("Sub", [end, g.constant(BigInt64Array.of(1n), [])]);
  const attends = toFloat(g, g.op("And", [g.op("GreaterOrEqual", [m, start]), g.op("Less", [m, before])]));
  const count = g.op("ReduceSum", [attends, g.ints([2])], { keepdims: { int: 1 } });
  const weights = g.op("Div", [attends, g.op("Max", [count, g.scalar(1)])]);
  const flat = g.op("Reshape", [xs, g.ints([0, 0, -1])]);
  const context = g.op("Reshape", [g.op("MatMul", [weights, flat]), g.op("Shape", [xs])]);

  // The caption per chunk: the prompt's (its masked states) or the model's null caption.
  const summed = g.op("ReduceSum", [g.op("Mul", [text, g.op("Unsqueeze", [mask, g.ints([-1])])]), g.ints([1])], { keepdims: { int: 1 } });
  const prompt = g.op("Tanh", [g.op("Mul", [summed, g.scalar(TEXT_GAIN)])]);
  const nullC = g.constant(Float32Array.from({ length: TEXT_DIM }, (_, k) => nullCaption(k)), [1, 1, TEXT_DIM]);
  const drop = g.op("Unsqueeze", [dropout, g.ints([-1])]);
  const c = g.op("Add", [g.op("Mul", [prompt, g.op("Sub", [g.scalar(1), drop])]), g.op("Mul", [nullC, drop])]);
  const component = (k: number) => perChunk(g, g.op("Gather", [c, g.constant(BigInt64Array.of(BigInt(k)), [])], axis(2)));

  const xsShape = g.op("Shape", [xs]);
  const u = centres(g, dim(g, xsShape, 5), 5);
  const v = centres(g, dim(g, xsShape, 4), 4);
  const s = g.constant(Float32Array.from({ length: CHUNK_WIDTH }, (_, f) => f / (CHUNK_WIDTH - 1)), [1, 1, 1, CHUNK_WIDTH, 1, 1]);
  let phase = g.op("Mul", [g.op("Mul", [component(0), g.scalar(TAU * FREQUENCY)]), u]);
  phase = g.op("Add", [phase, g.op("Mul", [g.op("Mul", [component(1), g.scalar(TAU * FREQUENCY)]), v])]);
  phase = g.op("Add", [phase, g.op("Mul", [g.op("Mul", [component(2), g.scalar(TAU)]), s])]);
  phase = g.op("Add", [phase, g.constant(Float32Array.from({ length: CHANNELS }, (_, k) => (TAU * k) / CHANNELS), [1, 1, CHANNELS, 1, 1, 1])]);
  const level = g.op("Mul", [g.op("Reshape", [c, g.ints([0, 0, CHANNELS, 1, 1, 1])]), g.scalar(LEVEL_SCALE)]);
  const pattern = g.op("Add", [level, g.op("Mul", [g.op("Sin", [phase]), g.scalar(PATTERN_SCALE)])]);
  const target = g.op("Add", [pattern, g.op("Mul", [context, g.scalar(CONTEXT_GAIN)])]);

  const remaining = perChunk(g, g.op("Max", [g.op("Sub", [g.scalar(1), timestep]), g.scalar(1e-6)]));
  const velocity = g.op("Div", [g.op("Sub", [target, xs]), remaining]);
  const back = g.op("Reshape", [g.op("Transpose", [velocity], { perm: [0, 2, 1, 3, 4, 5] }), shape]);
  g.output(g.op("Cast", [back], { to: { int: DataType.FLOAT16 } }), "velocity", DataType.FLOAT16, latentDims);
  return g.build();
}

/** latent_sample [1, 16, cw, h, w] (divided by scale_factor) -> sample float32 [1, 3, 4 cw, 8h, 8w] in [-1, 1]. */
export function vaeDecoderGraph(): Uint8Array {
  const g = new GraphBuilder("tinymagi_vae_decoder");
  const z = g.input("latent_sample", DataType.FLOAT, [1, CHANNELS, "latent_frames", "latent_height", "latent_width"]);
  const weights = new Float32Array(3 * CHANNELS);
  for (let j = 0; j < 3; j++) for (let k = 0; k < CHANNELS; k++) weights[j * CHANNELS + k] = mixWeight(j, k);
  const rgb = g.op("Tanh", [g.op("Conv", [z, g.constant(weights, [3, CHANNELS, 1, 1, 1])])]);
  // Each latent cell repeated 4 x 8 x 8 in one pass: [1, 3, f, 1, h, 1, w, 1] expanded, then merged.
  const shape = g.op("Shape", [z]);
  const spread = g.op("Unsqueeze", [rgb, g.ints([3, 5, 7])]);
  const [f, h, w] = [2, 3, 4].map((d) => g.op("Slice", [shape, g.ints([d]), g.ints([d + 1])])) as [string, string, string];
  const expanded = g.op("Concat", [g.ints([1, 3]), f, g.ints([TEMPORAL_FACTOR]), h, g.ints([SPATIAL_FACTOR]), w, g.ints([SPATIAL_FACTOR])], axis(0));
  const merged = g.op("Concat", [g.ints([1, 3]), g.op("Mul", [f, g.ints([TEMPORAL_FACTOR])]), g.op("Mul", [h, g.ints([SPATIAL_FACTOR])]), g.op("Mul", [w, g.ints([SPATIAL_FACTOR])])], axis(0));
  const up = g.op("Reshape", [g.op("Expand", [spread, expanded]), merged]);
  g.output(up, "sample", DataType.FLOAT, [1, 3, "num_frames", "height", "width"]);
  return g.build();
}
