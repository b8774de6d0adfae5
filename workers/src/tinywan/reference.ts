import { Tokenizer } from "@huggingface/tokenizers";
import { truncatedIds } from "../pipeline/tokenize.js";
import { roundHalfEven } from "../pipeline/video-frames.js";
import { tinyTokenizerConfig, tinyTokenizerJson } from "../tiny/tokenizer-json.js";
import {
  CHANNELS, FREQUENCY, LATENTS_MEAN, LATENTS_STD, LEVEL_SCALE, MAX_TOKENS, PATTERN_SCALE, SPATIAL_FACTOR,
  TEMPORAL_FACTOR, TEXT_DIM, TEXT_GAIN, embedding, mixBias, mixWeight,
} from "./spec.js";

/** tinywan's analytic output in plain TypeScript from spec.ts (no ONNX Runtime, no sampler): what tests compare against. */

let tokenizer: Tokenizer | undefined;

/** c for a prompt whose states were cut and zero-padded: only its real tokens (and `</s>`) count. */
export function tinyWanConditioning(prompt: string): number[] {
  tokenizer ??= new Tokenizer(tinyTokenizerJson({ closingEos: true }), tinyTokenizerConfig());
  const ids = truncatedIds(tokenizer, prompt, MAX_TOKENS);
  return Array.from({ length: TEXT_DIM }, (_, d) => Math.tanh(TEXT_GAIN * ids.reduce((s, id) => s + embedding(id, d), 0)));
}

function target(c: number[], k: number, t: number, u: number, v: number): number {
  const phase = 2 * Math.PI * (FREQUENCY * c[0]! * u + FREQUENCY * c[1]! * v + c[2]! * t) + (2 * Math.PI * k) / CHANNELS;
  return LEVEL_SCALE * c[k]! + PATTERN_SCALE * Math.sin(phase);
}

export interface TinyWanTarget {
  prompt: string;
  negativePrompt: string;
  guidance: number;
  numFrames: number;
  width: number;
  height: number;
  /** The VAE config's statistics (defaults: the generated folder's). */
  mean?: readonly number[];
  std?: readonly number[];
}

/**
 * RGB frames [F, H, W, 3] tinywan must produce: guidance lands the sampler on
 * x0(negative) + g (x0(prompt) - x0(negative)); then denormalisation, the decoder and diffusers' rounding.
 */
export function tinyWanTargetFrames(o: TinyWanTarget): Uint8Array {
  const mean = o.mean ?? LATENTS_MEAN;
  const std = o.std ?? LATENTS_STD;
  const cond = tinyWanConditioning(o.prompt);
  const uncond = tinyWanConditioning(o.negativePrompt);
  const g = o.guidance > 1 ? o.guidance : 1;
  const latentFrames = (o.numFrames - 1) / TEMPORAL_FACTOR + 1;
  const [h, w] = [o.height / SPATIAL_FACTOR, o.width / SPATIAL_FACTOR];
  const out = new Uint8Array(o.numFrames * o.height * o.width * 3);
  const z = new Float64Array(CHANNELS);
  for (let f = 0; f < o.numFrames; f++) {
    const t = Math.ceil(f / TEMPORAL_FACTOR) / Math.max(latentFrames - 1, 1);
    for (let y = 0; y < o.height; y++) {
      const v = (Math.floor(y / SPATIAL_FACTOR) + 0.5) / h;
      for (let x = 0; x < o.width; x++) {
        const u = (Math.floor(x / SPATIAL_FACTOR) + 0.5) / w;
        for (let k = 0; k < CHANNELS; k++) {
          const c = target(cond, k, t, u, v);
          const x0 = g === 1 ? c : target(uncond, k, t, u, v) + g * (c - target(uncond, k, t, u, v));
          z[k] = x0 * std[k]! + mean[k]!;
        }
        for (let j = 0; j < 3; j++) {
          let s = mixBias(j);
          for (let k = 0; k < CHANNELS; k++) s += mixWeight(j, k) * z[k]!;
          const unit = Math.min(1, Math.max(0, Math.tanh(s) / 2 + 0.5));
          out[((f * o.height + y) * o.width + x) * 3 + j] = roundHalfEven(unit * 255);
        }
      }
    }
  }
  return out;
}
