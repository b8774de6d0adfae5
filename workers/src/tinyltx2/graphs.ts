import { DataType, GraphBuilder } from "../onnx/graph-builder.js";
import { axis, repeatIndex } from "../tiny/graphs.js";
import { paddedEmbedding } from "../tinywan/graphs.js";
import {
  AUDIO_CHANNELS, AUDIO_FEATURES, AUDIO_LATENT_SECONDS, AUDIO_TEXT_SCALE, AUDIO_TIME_SCALE, BASE_TONE_HZ, CHANNELS,
  CROSS_SCALE, FREQUENCY, LEVEL_SCALE, MAX_TOKENS, MEL_BINS, OUTPUT_SAMPLE_RATE, PATTERN_SCALE, PERTURBED_SCALE,
  SPATIAL_FACTOR, TEMPORAL_FACTOR, TEXT_DIM, TEXT_GAIN, TEXT_LAYERS, TONE_AMPLITUDE, VOCODER_HOP,
  audioLevel, mixBias, mixWeight, padState,
} from "./spec.js";

const TAU = 2 * Math.PI;
const toFloat = (g: GraphBuilder, v: string) => g.op("Cast", [v], { to: { int: DataType.FLOAT } });
const toHalf = (g: GraphBuilder, v: string) => g.op("Cast", [v], { to: { int: DataType.FLOAT16 } });
const index = (g: GraphBuilder, k: number) => g.constant(BigInt64Array.of(BigInt(k)), []);
const pick = (g: GraphBuilder, v: string, k: number, ax: number) => g.op("Gather", [v, index(g, k)], axis(ax));
const unsqueeze = (g: GraphBuilder, v: string, axes: number[]) => g.op("Unsqueeze", [v, g.ints(axes)]);
const mul = (g: GraphBuilder, a: string, b: string) => g.op("Mul", [a, b]);
const add = (g: GraphBuilder, a: string, b: string) => g.op("Add", [a, b]);
const scaled = (g: GraphBuilder, v: string, s: number) => mul(g, v, g.scalar(s));

/** input_ids, attention_mask [B, L] -> hidden_states [B, L, 8 x 2]: per layer k, E[id] (k + 1) at real tokens, PAD[l] at pads. */
export function textEncoderGraph(vocabSize: number): Uint8Array {
  const g = new GraphBuilder("tinyltx2_text_encoder");
  const ids = g.input("input_ids", DataType.INT64, ["batch", "sequence"]);
  const mask = g.input("attention_mask", DataType.INT64, ["batch", "sequence"]);
  const base = paddedEmbedding(g, ids, mask, { vocabSize, dim: TEXT_DIM, maxTokens: MAX_TOKENS, padState });
  const layers = mul(g, unsqueeze(g, base, [-1]), g.constant(Float32Array.from({ length: TEXT_LAYERS }, (_, k) => k + 1), [TEXT_LAYERS]));
  g.output(g.op("Reshape", [layers, g.ints([0, 0, -1])]), "hidden_states", DataType.FLOAT, ["batch", "sequence", TEXT_DIM * TEXT_LAYERS]);
  return g.build();
}

/** text_encoder_hidden_states, attention_mask -> video and audio prompt states (masked), the mask passed on. */
export function connectorsGraph(): Uint8Array {
  const g = new GraphBuilder("tinyltx2_connectors");
  const h = g.input("text_encoder_hidden_states", DataType.FLOAT, ["batch", "sequence", TEXT_DIM * TEXT_LAYERS]);
  const mask = g.input("attention_mask", DataType.INT64, ["batch", "sequence"]);
  const layered = g.op("Reshape", [h, g.ints([0, 0, TEXT_DIM, TEXT_LAYERS])]);
  const [l0, l1] = [pick(g, layered, 0, 3), pick(g, layered, 1, 3)];
  const m = unsqueeze(g, toFloat(g, mask), [-1]);
  g.output(mul(g, add(g, l0, l1), m), "video_text_embedding", DataType.FLOAT, ["batch", "sequence", TEXT_DIM]);
  g.output(mul(g, g.op("Sub", [l1, l0]), m), "audio_text_embedding", DataType.FLOAT, ["batch", "sequence", TEXT_DIM]);
  g.output(mask, "connector_attention_mask", DataType.INT64, ["batch", "sequence"]);
  return g.build();
}

/** c = tanh(0.5 sum over L of states * mask): [B, 8]. */
function conditioning(g: GraphBuilder, states: string, mask: string): string {
  const masked = mul(g, toFloat(g, states), unsqueeze(g, toFloat(g, mask), [-1]));
  return g.op("Tanh", [scaled(g, g.op("ReduceSum", [masked, g.ints([1])], { keepdims: { int: 0 } }), TEXT_GAIN)]);
}

/** The joint transformer: every input of the ltx2 contract, the exact velocities toward spec.ts's targets. */
export function transformerGraph(): Uint8Array {
  const g = new GraphBuilder("tinyltx2_transformer");
  const x = toFloat(g, g.input("hidden_states", DataType.FLOAT16, ["batch", "video_tokens", CHANNELS]));
  const xa = toFloat(g, g.input("audio_hidden_states", DataType.FLOAT16, ["batch", "audio_tokens", AUDIO_FEATURES]));
  const text = g.input("encoder_hidden_states", DataType.FLOAT16, ["batch", "sequence", TEXT_DIM]);
  const audioText = g.input("audio_encoder_hidden_states", DataType.FLOAT16, ["batch", "sequence", TEXT_DIM]);
  g.input("timestep", DataType.FLOAT, ["batch"]);
  const sigmaIn = g.input("sigma", DataType.FLOAT, ["batch"]);
  const mask = g.input("encoder_attention_mask", DataType.INT64, ["batch", "sequence"]);
  const audioMask = g.input("audio_encoder_attention_mask", DataType.INT64, ["batch", "sequence"]);
  const numFrames = toFloat(g, g.input("num_frames", DataType.INT64, [1]));
  const height = toFloat(g, g.input("height", DataType.INT64, [1]));
  const width = toFloat(g, g.input("width", DataType.INT64, [1]));
  const fps = g.input("fps", DataType.FLOAT, [1]);
  const audioFrames = toFloat(g, g.input("audio_num_frames", DataType.INT64, [1]));
  const coords = g.input("video_coords", DataType.FLOAT, ["batch", 3, "video_tokens", 2]);
  const audioCoords = g.input("audio_coords", DataType.FLOAT, ["batch", 1, "audio_tokens", 2]);
  const isolate = toFloat(g, g.input("isolate_modalities", DataType.BOOL, [1]));
  const perturb = g.input("perturbation_mask", DataType.FLOAT, ["batch"]);

  const cv = conditioning(g, text, mask);
  const ca = conditioning(g, audioText, audioMask);
  const perBatch = (v: string) => g.op("Reshape", [v, g.ints([-1, 1, 1])]);
  const keep = g.op("Sub", [g.scalar(1), isolate]);
  const strength = perBatch(add(g, g.scalar(PERTURBED_SCALE), scaled(g, perturb, 1 - PERTURBED_SCALE)));
  const sigma = perBatch(g.op("Max", [g.op("Div", [sigmaIn, g.scalar(1000)]), g.scalar(1e-6)]));
  const asRow = (c: string) => g.op("Reshape", [c, g.ints([-1, 1, TEXT_DIM])]);

  // Video: positions from the coords ([B, S] each), scaled by the scalar inputs.
  const start = pick(g, coords, 0, 3);
  const mid = scaled(g, add(g, start, pick(g, coords, 1, 3)), 0.5);
  const u = g.op("Div", [pick(g, mid, 2, 1), scaled(g, width, SPATIAL_FACTOR)]);
  const v = g.op("Div", [pick(g, mid, 1, 1), scaled(g, height, SPATIAL_FACTOR)]);
  const frameSpan = g.op("Max", [scaled(g, g.op("Sub", [numFrames, g.scalar(1)]), TEMPORAL_FACTOR), g.scalar(1)]);
  const tau = g.op("Div", [mul(g, pick(g, start, 0, 1), fps), frameSpan]);
  const term = (k: number, s: number, coord: string) => mul(g, perBatch(pick(g, cv, k, 1)), unsqueeze(g, scaled(g, coord, s), [-1]));
  let phase = add(g, term(0, TAU * FREQUENCY, u), term(1, TAU * FREQUENCY, v));
  phase = add(g, phase, term(2, TAU, tau));
  phase = add(g, phase, g.constant(Float32Array.from({ length: CHANNELS }, (_, k) => (TAU * k) / CHANNELS), [1, 1, CHANNELS]));
  let x0 = add(g, scaled(g, asRow(cv), LEVEL_SCALE), scaled(g, g.op("Sin", [phase]), PATTERN_SCALE));
  x0 = mul(g, add(g, x0, mul(g, keep, scaled(g, asRow(ca), CROSS_SCALE))), strength);
  const velocity = g.op("Div", [g.op("Sub", [x, x0]), sigma]);
  g.output(toHalf(g, velocity), "sample", DataType.FLOAT16, ["batch", "video_tokens", CHANNELS]);

  // Audio: time from the coords' starts, in units of the sound's length.
  const ta = g.op("Div", [pick(g, pick(g, audioCoords, 0, 3), 0, 1), scaled(g, audioFrames, AUDIO_LATENT_SECONDS)]);
  const wave = unsqueeze(g, scaled(g, g.op("Sin", [scaled(g, ta, TAU)]), AUDIO_TIME_SCALE), [-1]);
  const levels = g.constant(Float32Array.from({ length: AUDIO_FEATURES }, (_, q) => audioLevel(q)), [1, 1, AUDIO_FEATURES]);
  let x0a = add(g, add(g, levels, scaled(g, asRow(ca), AUDIO_TEXT_SCALE)), wave);
  x0a = mul(g, add(g, x0a, mul(g, keep, scaled(g, asRow(cv), CROSS_SCALE))), strength);
  const audioVelocity = g.op("Div", [g.op("Sub", [xa, x0a]), sigma]);
  g.output(toHalf(g, audioVelocity), "audio_sample", DataType.FLOAT16, ["batch", "audio_tokens", AUDIO_FEATURES]);
  return g.build();
}

const dimOf = (g: GraphBuilder, shape: string, d: number) => g.op("Gather", [shape, index(g, d)], axis(0));
const int = (g: GraphBuilder, n: number) => g.constant(BigInt64Array.of(BigInt(n)), []);

/** latent_sample [1, 8, F, H, W], timestep [1] -> sample [1, 3, 8(F-1)+1, 32H, 32W] in [-1, 1]. */
export function vaeDecoderGraph(): Uint8Array {
  const g = new GraphBuilder("tinyltx2_vae_decoder");
  const z = g.input("latent_sample", DataType.FLOAT, [1, CHANNELS, "latent_frames", "latent_height", "latent_width"]);
  // Declared as the real decoder's; the replica's VAE is not timestep-conditioned (its config says so).
  g.input("timestep", DataType.FLOAT, [1]);
  const weights = new Float32Array(3 * CHANNELS);
  for (let j = 0; j < 3; j++) for (let k = 0; k < CHANNELS; k++) weights[j * CHANNELS + k] = mixWeight(j, k);
  const mixed = g.op("Conv", [z, g.constant(weights, [3, CHANNELS, 1, 1, 1]), g.constant(Float32Array.from([0, 1, 2], mixBias), [3])]);
  const rgb = g.op("Tanh", [mixed]);
  const shape = g.op("Shape", [z]);
  const frames = g.op("Add", [g.op("Mul", [g.op("Sub", [dimOf(g, shape, 2), int(g, 1)]), int(g, TEMPORAL_FACTOR)]), int(g, 1)]);
  const scaledDim = (d: number) => g.op("Mul", [dimOf(g, shape, d), int(g, SPATIAL_FACTOR)]);
  let up = g.op("Gather", [rgb, repeatIndex(g, frames, TEMPORAL_FACTOR - 1, TEMPORAL_FACTOR)], axis(2));
  up = g.op("Gather", [up, repeatIndex(g, scaledDim(3), 0, SPATIAL_FACTOR)], axis(3));
  up = g.op("Gather", [up, repeatIndex(g, scaledDim(4), 0, SPATIAL_FACTOR)], axis(4));
  g.output(up, "sample", DataType.FLOAT, [1, 3, "num_frames", "height", "width"]);
  return g.build();
}

/** latent_sample [1, 2, L, 4] -> mel [1, 2, 4L - 3, 16]: each latent cell repeated over 4 mel frames and 4 bins. */
export function audioVaeDecoderGraph(): Uint8Array {
  const g = new GraphBuilder("tinyltx2_audio_vae_decoder");
  const z = g.input("latent_sample", DataType.FLOAT, [1, AUDIO_CHANNELS, "audio_frames", MEL_BINS / 4]);
  const shape = g.op("Shape", [z]);
  const melFrames = g.op("Sub", [g.op("Mul", [dimOf(g, shape, 2), int(g, 4)]), int(g, 3)]);
  let mel = g.op("Gather", [z, repeatIndex(g, melFrames, 3, 4)], axis(2));
  mel = g.op("Gather", [mel, repeatIndex(g, int(g, MEL_BINS), 0, 4)], axis(3));
  g.output(mel, "sample", DataType.FLOAT, [1, AUDIO_CHANNELS, "mel_frames", MEL_BINS]);
  return g.build();
}

/** hidden_states (mel) [1, 2, T, 16] -> waveform [1, 2, 240 T]: a tone whose pitch the mel's mean sets. */
export function vocoderGraph(): Uint8Array {
  const g = new GraphBuilder("tinyltx2_vocoder");
  const mel = g.input("hidden_states", DataType.FLOAT, [1, AUDIO_CHANNELS, "mel_frames", MEL_BINS]);
  const mean = g.op("ReduceMean", [mel], { keepdims: { int: 0 } });
  const hz = scaled(g, g.op("Exp", [scaled(g, g.op("Tanh", [mean]), Math.LN2)]), BASE_TONE_HZ);
  const count = g.op("Mul", [dimOf(g, g.op("Shape", [mel]), 2), int(g, VOCODER_HOP)]);
  const n = toFloat(g, g.op("Range", [int(g, 0), count, int(g, 1)]));
  const phase = mul(g, n, scaled(g, hz, (2 * Math.PI) / OUTPUT_SAMPLE_RATE));
  const offsets = g.constant(Float32Array.from({ length: AUDIO_CHANNELS }, (_, ch) => (ch * Math.PI) / 2), [AUDIO_CHANNELS, 1]);
  const wave = scaled(g, g.op("Sin", [add(g, unsqueeze(g, phase, [0]), offsets)]), TONE_AMPLITUDE);
  g.output(unsqueeze(g, wave, [0]), "waveform", DataType.FLOAT, [1, AUDIO_CHANNELS, "samples"]);
  return g.build();
}
