import { Tokenizer } from "@huggingface/tokenizers";
import {
  BRIGHTNESS_MIX,
  BRIGHTNESS_SCALE,
  COLOUR_SCALE,
  EMBED_DIM,
  FREQUENCY,
  PATTERN_SCALE,
  SPATIAL_FACTOR,
  TEMPORAL_FACTOR,
  embedding,
} from "./spec.js";
import { tinyTokenizerConfig, tinyTokenizerJson } from "./tokenizer-json.js";

/**
 * The tiny model's analytic output computed in plain TypeScript from spec.ts, without ONNX Runtime or
 * the sampler: what tests compare the platform's videos against.
 */
const MAX_TOKENS = 32;
let tokenizer: Tokenizer | undefined;

export function tinyConditioning(prompt: string): number[] {
  tokenizer ??= new Tokenizer(tinyTokenizerJson(), tinyTokenizerConfig());
  const ids: number[] = tokenizer.encode(prompt).ids.slice(0, MAX_TOKENS);
  return Array.from({ length: EMBED_DIM }, (_, d) => Math.tanh(ids.reduce((s, id) => s + embedding(id, d), 0)));
}

/** Latent target x0 value for channel k at normalised time t and cell centre (u, v). */
function target(c: number[], k: number, t: number, u: number, v: number): number {
  if (k === 3) return BRIGHTNESS_SCALE * c[7]!;
  const phase = 2 * Math.PI * (FREQUENCY * c[3]! * u + FREQUENCY * c[4]! * v + c[5]! * t) + (2 * Math.PI * k) / 3;
  return COLOUR_SCALE * c[k]! + PATTERN_SCALE * Math.sin(phase);
}

/** ONNX Round rounds halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * RGB frames [T, H, W, 3] the tiny model must produce for a prompt. With guidance g > 1 the sampler
 * lands on x0(negative) + g (x0(prompt) - x0(negative)), as classifier-free guidance does.
 */
export function tinyTargetFrames(
  prompt: string,
  numFrames: number,
  width: number,
  height: number,
  guidance = { negativePrompt: "", scale: 1 },
): Uint8Array {
  const cond = tinyConditioning(prompt);
  const uncond = tinyConditioning(guidance.negativePrompt);
  const g = guidance.scale > 1 ? guidance.scale : 1;
  const latentFrames = (numFrames - 1) / TEMPORAL_FACTOR + 1;
  const [h, w] = [height / SPATIAL_FACTOR, width / SPATIAL_FACTOR];
  const out = new Uint8Array(numFrames * height * width * 3);
  const x0 = (k: number, t: number, u: number, v: number) => {
    const c = target(cond, k, t, u, v);
    return g === 1 ? c : target(uncond, k, t, u, v) + g * (c - target(uncond, k, t, u, v));
  };
  for (let f = 0; f < numFrames; f++) {
    const lf = Math.ceil(f / TEMPORAL_FACTOR);
    const t = lf / Math.max(latentFrames - 1, 1);
    for (let y = 0; y < height; y++) {
      const v = (Math.floor(y / SPATIAL_FACTOR) + 0.5) / h;
      for (let x = 0; x < width; x++) {
        const u = (Math.floor(x / SPATIAL_FACTOR) + 0.5) / w;
        const brightness = BRIGHTNESS_MIX * x0(3, t, u, v);
        for (let k = 0; k < 3; k++) {
          const p = roundHalfEven(127.5 * (x0(k, t, u, v) + brightness) + 127.5);
          out[((f * height + y) * width + x) * 3 + k] = Math.min(255, Math.max(0, p));
        }
      }
    }
  }
  return out;
}
