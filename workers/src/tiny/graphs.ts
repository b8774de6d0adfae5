import { DataType, GraphBuilder } from "../onnx/graph-builder.js";
import {
  BRIGHTNESS_MIX,
  BRIGHTNESS_SCALE,
  CHANNELS,
  COLOUR_SCALE,
  EMBED_DIM,
  FREQUENCY,
  PATTERN_SCALE,
  SPATIAL_FACTOR,
  TEMPORAL_FACTOR,
  embedding,
} from "./spec.js";

const TAU = 2 * Math.PI;
export const axis = (n: number) => ({ axis: { int: n } });

/** Test weights that change nothing in the output but that a loaded session really holds in memory. */
export interface BallastWeights {
  bytes: number;
  /** Size of each initializer: small ones land in the allocator's heap, large ones in their own mappings. */
  chunkBytes: number;
}

/** input_ids, attention_mask [batch, seq] -> last_hidden_state [batch, seq, D]: masked embedding lookup. */
export function textEncoderGraph(vocabSize: number, ballast: BallastWeights[] = []): Uint8Array {
  const g = new GraphBuilder("tiny_text_encoder");
  const ids = g.input("input_ids", DataType.INT64, ["batch", "seq"]);
  const mask = g.input("attention_mask", DataType.INT64, ["batch", "seq"]);
  const table = new Float32Array(vocabSize * EMBED_DIM);
  for (let id = 0; id < vocabSize; id++) for (let d = 0; d < EMBED_DIM; d++) table[id * EMBED_DIM + d] = embedding(id, d);
  const emb = g.op("Gather", [g.constant(table, [vocabSize, EMBED_DIM]), ids], axis(0));
  const m = g.op("Unsqueeze", [g.op("Cast", [mask], { to: { int: DataType.FLOAT } }), g.ints([-1])]);
  let hidden = g.op("Mul", [emb, m]);
  if (ballast.length > 0) {
    // Each chunk is read at index 0 computed from the input's shape (0 x batch): known only at run time,
    // so graph optimisation can neither fold nor drop a chunk, and the sum is added times that same 0.
    const zero = g.op("Mul", [g.op("Gather", [g.op("Shape", [ids]), g.constant(BigInt64Array.of(0n), [])], axis(0)), g.constant(BigInt64Array.of(0n), [])]);
    const picks = [];
    for (const { bytes, chunkBytes } of ballast) {
      for (let left = bytes; left > 0; left -= chunkBytes) {
        const chunk = new Float32Array(Math.ceil(Math.min(left, chunkBytes) / 4)).fill(1);
        picks.push(g.op("Gather", [g.constant(chunk), zero], axis(0)));
      }
    }
    const total = picks.length === 1 ? picks[0]! : g.op("Sum", picks);
    hidden = g.op("Add", [hidden, g.op("Mul", [total, g.op("Cast", [zero], { to: { int: DataType.FLOAT } })])]);
  }
  g.output(hidden, "last_hidden_state", DataType.FLOAT, ["batch", "seq", EMBED_DIM]);
  return g.build();
}

/** A float coordinate grid along one axis of `shape`, reshaped to broadcast over [B, C, F, H, W]. */
export function grid(g: GraphBuilder, shape: string, dim: 2 | 3 | 4): string {
  const size = g.op("Gather", [shape, g.constant(BigInt64Array.of(BigInt(dim)), [])], axis(0));
  const index = g.op("Cast", [g.op("Range", [g.constant(BigInt64Array.of(0n), []), size, g.constant(BigInt64Array.of(1n), [])])], { to: { int: DataType.FLOAT } });
  const sizeF = g.op("Cast", [size], { to: { int: DataType.FLOAT } });
  // Spatial: cell centres (i + 0.5) / n. Time: f / max(F - 1, 1), so the first and last frames are 0 and 1.
  const coord =
    dim === 2
      ? g.op("Div", [index, g.op("Max", [g.op("Sub", [sizeF, g.scalar(1)]), g.scalar(1)])])
      : g.op("Div", [g.op("Add", [index, g.scalar(0.5)]), sizeF]);
  const target = [1, 1, 1, 1, 1];
  target[dim] = -1;
  return g.op("Reshape", [coord, g.ints(target)]);
}

/** One conditioning value c[k] per batch item, shaped [B, 1, 1, 1, 1]. */
export function component(g: GraphBuilder, c: string, k: number): string {
  return g.op("Reshape", [g.op("Gather", [c, g.constant(BigInt64Array.of(BigInt(k)), [])], axis(1)), g.ints([-1, 1, 1, 1, 1])]);
}

/**
 * hidden_states [B, 4, F, H, W], timestep [B], encoder_hidden_states [B, seq, D] -> out_hidden_states:
 * the exact flow-matching velocity toward the prompt's analytic target (see spec.ts).
 */
export function transformerGraph(scratchBytesPerFrame?: number): Uint8Array {
  const g = new GraphBuilder("tiny_transformer");
  const x = g.input("hidden_states", DataType.FLOAT, ["batch", CHANNELS, "frames", "height", "width"]);
  const timestep = g.input("timestep", DataType.FLOAT, ["batch"]);
  const text = g.input("encoder_hidden_states", DataType.FLOAT, ["batch", "seq", EMBED_DIM]);

  const c = g.op("Tanh", [g.op("ReduceSum", [text, g.ints([1])], { keepdims: { int: 0 } })]);
  const shape = g.op("Shape", [x]);
  const [t, v, u] = [grid(g, shape, 2), grid(g, shape, 3), grid(g, shape, 4)];
  const scaled = (k: number, s: number) => g.op("Mul", [component(g, c, k), g.scalar(s)]);
  let phase = g.op("Mul", [scaled(3, TAU * FREQUENCY), u]);
  phase = g.op("Add", [phase, g.op("Mul", [scaled(4, TAU * FREQUENCY), v])]);
  phase = g.op("Add", [phase, g.op("Mul", [scaled(5, TAU), t])]);
  phase = g.op("Add", [phase, g.constant(Float32Array.of(0, TAU / 3, (2 * TAU) / 3), [1, 3, 1, 1, 1])]);
  const colour = g.op("Reshape", [
    g.op("Gather", [c, g.constant(BigInt64Array.of(0n, 1n, 2n), [3])], axis(1)),
    g.ints([-1, 3, 1, 1, 1]),
  ]);
  const rgb = g.op("Add", [g.op("Mul", [colour, g.scalar(COLOUR_SCALE)]), g.op("Mul", [g.op("Sin", [phase]), g.scalar(PATTERN_SCALE)])]);
  const oneChannel = g.op("Concat", [g.op("Slice", [shape, g.ints([0]), g.ints([1])]), g.ints([1]), g.op("Slice", [shape, g.ints([2]), g.ints([5])])], axis(0));
  const brightness = g.op("Expand", [scaled(7, BRIGHTNESS_SCALE), oneChannel]);
  const x0 = g.op("Concat", [rgb, brightness], axis(1));

  const sigma = g.op("Reshape", [g.op("Max", [g.op("Div", [timestep, g.scalar(1000)]), g.scalar(1e-6)]), g.ints([-1, 1, 1, 1, 1])]);
  let velocity = g.op("Div", [g.op("Sub", [x, x0]), sigma]);
  if (scratchBytesPerFrame) {
    // A working tensor of scratchBytesPerFrame per latent frame, as a real model's activations grow with the
    // request: a large enough request makes ONNX Runtime's allocator really fail.
    const frames = g.op("Slice", [shape, g.ints([2]), g.ints([3])]);
    const size = g.op("Mul", [frames, g.ints([Math.ceil(scratchBytesPerFrame / 4)])]);
    const scratch = g.op("ReduceMax", [g.op("Expand", [g.scalar(0), size])], { keepdims: { int: 0 } });
    velocity = g.op("Add", [velocity, scratch]);
  }
  g.output(velocity, "out_hidden_states", DataType.FLOAT, ["batch", CHANNELS, "frames", "height", "width"]);
  return g.build();
}

/** Indices that repeat each source position: floor((i + offset) / factor) for i in 0..size-1. */
export function repeatIndex(g: GraphBuilder, size: string, offset: number, factor: number): string {
  const i = g.op("Range", [g.constant(BigInt64Array.of(0n), []), size, g.constant(BigInt64Array.of(1n), [])]);
  return g.op("Div", [g.op("Add", [i, g.constant(BigInt64Array.of(BigInt(offset)), [])]), g.constant(BigInt64Array.of(BigInt(factor)), [])]);
}

/** latent_sample [1, 4, F, H, W] -> sample uint8 [4(F-1)+1, 8H, 8W, 3]. */
export function vaeDecoderGraph(): Uint8Array {
  const g = new GraphBuilder("tiny_vae_decoder");
  const z = g.input("latent_sample", DataType.FLOAT, [1, CHANNELS, "frames", "height", "width"]);
  const slice = (from: number, to: number) => g.op("Slice", [z, g.ints([from]), g.ints([to]), g.ints([1])]);
  const rgb = g.op("Add", [slice(0, 3), g.op("Mul", [slice(3, 4), g.scalar(BRIGHTNESS_MIX)])]);

  const shape = g.op("Shape", [z]);
  const dimOf = (d: number) => g.op("Gather", [shape, g.constant(BigInt64Array.of(BigInt(d)), [])], axis(0));
  const tf = BigInt(TEMPORAL_FACTOR);
  const frames = g.op("Add", [g.op("Mul", [g.op("Sub", [dimOf(2), g.constant(BigInt64Array.of(1n), [])]), g.constant(BigInt64Array.of(tf), [])]), g.constant(BigInt64Array.of(1n), [])]);
  const sf = BigInt(SPATIAL_FACTOR);
  const scaledDim = (d: number) => g.op("Mul", [dimOf(d), g.constant(BigInt64Array.of(sf), [])]);
  // Causal VAE timing: output frame 0 comes from latent frame 0, then each latent frame gives 4 frames.
  let up = g.op("Gather", [rgb, repeatIndex(g, frames, TEMPORAL_FACTOR - 1, TEMPORAL_FACTOR)], axis(2));
  up = g.op("Gather", [up, repeatIndex(g, scaledDim(3), 0, SPATIAL_FACTOR)], axis(3));
  up = g.op("Gather", [up, repeatIndex(g, scaledDim(4), 0, SPATIAL_FACTOR)], axis(4));

  const pixels = g.op("Round", [g.op("Add", [g.op("Mul", [up, g.scalar(127.5)]), g.scalar(127.5)])]);
  const clipped = g.op("Clip", [pixels, g.scalar(0), g.scalar(255)]);
  const hwc = g.op("Transpose", [g.op("Squeeze", [clipped, g.ints([0])])], { perm: [1, 2, 3, 0] });
  g.output(g.op("Cast", [hwc], { to: { int: DataType.UINT8 } }), "sample", DataType.UINT8, ["num_frames", "pixel_height", "pixel_width", 3]);
  return g.build();
}
