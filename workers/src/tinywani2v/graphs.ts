import { DataType, GraphBuilder } from "../onnx/graph-builder.js";
import { axis } from "../tiny/graphs.js";
import { analyticLatent, flowVelocity, toFloat } from "../tinywan/graphs.js";
import { CHANNELS, TEXT_DIM, mixBias } from "../tinywan/spec.js";
import {
  CLIP_LIMIT, CLIP_PATCH, CLIP_SIZE, IMAGE_DIM, IMAGE_GAIN, IMAGE_LEVEL, IMAGE_TOKENS, MASK_CHANNELS,
  decoderPseudoInverse, imageProjection,
} from "./spec.js";

const pool = (g: GraphBuilder, x: string, kernel: number[]) => g.op("AveragePool", [x], { kernel_shape: kernel, strides: kernel });

/** pixel_values [B, 3, 224, 224] -> image_embeds [B, 257, 16]: a class token, then 16x16 patch tokens. */
export function imageEncoderGraph(): Uint8Array {
  const g = new GraphBuilder("tinywani2v_image_encoder");
  const pixels = g.input("pixel_values", DataType.FLOAT, ["batch", 3, CLIP_SIZE, CLIP_SIZE]);
  const patches = g.op("Transpose", [g.op("Reshape", [pool(g, pixels, [CLIP_PATCH, CLIP_PATCH]), g.ints([0, 3, -1])])], { perm: [0, 2, 1] });
  const weights = Float32Array.from({ length: 3 * IMAGE_DIM }, (_, i) => imageProjection(Math.floor(i / IMAGE_DIM), i % IMAGE_DIM));
  const tokens = g.op("MatMul", [patches, g.constant(weights, [3, IMAGE_DIM])]);
  const cls = g.op("ReduceMean", [tokens], { axes: [1], keepdims: { int: 1 } });
  g.output(g.op("Concat", [cls, tokens], axis(1)), "image_embeds", DataType.FLOAT, ["batch", IMAGE_TOKENS, IMAGE_DIM]);
  return g.build();
}

/** sample [1, 3, F, H, W] in [-1, 1] -> latent_sample [1, 16, (F-1)/4+1, H/8, W/8]: the decoder's inverse on cell means. */
export function vaeEncoderGraph(): Uint8Array {
  const g = new GraphBuilder("tinywani2v_vae_encoder");
  const video = g.input("sample", DataType.FLOAT, [1, 3, "num_frames", "height", "width"]);
  const slice = (from: number, to: number) => g.op("Slice", [video, g.ints([from]), g.ints([to]), g.ints([2])]);
  // Causal in time: frame 0 alone, then each group of 4 frames.
  const means = g.op("Concat", [pool(g, slice(0, 1), [1, 8, 8]), pool(g, slice(1, 2 ** 31 - 1), [4, 8, 8])], axis(2));
  const clipped = g.op("Clip", [means, g.scalar(-CLIP_LIMIT), g.scalar(CLIP_LIMIT)]);
  const bias = g.constant(Float32Array.from([0, 1, 2], mixBias), [1, 3, 1, 1, 1]);
  const target = g.op("Sub", [g.op("Atanh", [clipped]), bias]);
  const z = g.op("Conv", [target, g.constant(decoderPseudoInverse(), [CHANNELS, 3, 1, 1, 1])]);
  g.output(z, "latent_sample", DataType.FLOAT, [1, CHANNELS, "latent_frames", "latent_height", "latent_width"]);
  return g.build();
}

/**
 * hidden_states f16 [B, 36, F, H, W], timestep int64 [B], encoder_hidden_states f16 [B, L, 16],
 * encoder_hidden_states_image f16 [B, 257, 16] -> out_sample f16 [B, 16, F, H, W] (spec.ts).
 */
export function i2vTransformerGraph(): Uint8Array {
  const g = new GraphBuilder("tinywani2v_transformer");
  const inChannels = CHANNELS + MASK_CHANNELS + CHANNELS;
  const hidden = toFloat(g, g.input("hidden_states", DataType.FLOAT16, ["batch", inChannels, "num_frames", "height", "width"]));
  const timestep = toFloat(g, g.input("timestep", DataType.INT64, ["batch"]));
  const text = toFloat(g, g.input("encoder_hidden_states", DataType.FLOAT16, ["batch", "sequence", TEXT_DIM]));
  const image = toFloat(g, g.input("encoder_hidden_states_image", DataType.FLOAT16, ["batch", "image_tokens", IMAGE_DIM]));
  const channels = (from: number, to: number) => g.op("Slice", [hidden, g.ints([from]), g.ints([to]), g.ints([1])]);
  const x = channels(0, CHANNELS);
  const mask = g.op("ReduceMean", [channels(CHANNELS, CHANNELS + MASK_CHANNELS)], { axes: [1], keepdims: { int: 1 } });
  const condition = channels(CHANNELS + MASK_CHANNELS, inChannels);
  const pooled = g.op("ReduceMean", [image], { axes: [1], keepdims: { int: 0 } });
  const e = g.op("Reshape", [g.op("Tanh", [g.op("Mul", [pooled, g.scalar(IMAGE_GAIN)])]), g.ints([-1, CHANNELS, 1, 1, 1])]);
  const free = g.op("Add", [analyticLatent(g, x, text), g.op("Mul", [e, g.scalar(IMAGE_LEVEL)])]);
  const x0 = g.op("Add", [g.op("Mul", [mask, condition]), g.op("Mul", [g.op("Sub", [g.scalar(1), mask]), free])]);
  const velocity = flowVelocity(g, x, x0, timestep);
  g.output(g.op("Cast", [velocity], { to: { int: DataType.FLOAT16 } }), "out_sample", DataType.FLOAT16, ["batch", CHANNELS, "num_frames", "height", "width"]);
  return g.build();
}
