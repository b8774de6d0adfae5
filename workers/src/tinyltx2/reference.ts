import { Tokenizer } from "@huggingface/tokenizers";
import { truncatedIds } from "../pipeline/tokenize.js";
import { roundHalfEven } from "../pipeline/video-frames.js";
import { tinyTokenizerConfig, tinyTokenizerJson } from "../tiny/tokenizer-json.js";
import {
  AUDIO_FEATURES, AUDIO_LATENTS_MEAN, AUDIO_LATENTS_STD, AUDIO_TEXT_SCALE, AUDIO_TIME_SCALE, BASE_TONE_HZ, CHANNELS,
  CROSS_SCALE, FREQUENCY, LATENTS_MEAN, LATENTS_STD, LEVEL_SCALE, MAX_TOKENS, PATTERN_SCALE, PERTURBED_SCALE,
  SPATIAL_FACTOR, TEMPORAL_FACTOR, TEXT_DIM, TEXT_GAIN, audioLevel, embedding, mixBias, mixWeight,
} from "./spec.js";

/**
 * tinyltx2's analytic output in plain TypeScript from spec.ts (no ONNX Runtime, no sampler, none of the
 * family's code): guidance in x0 space restated from diffusers' LTX2Pipeline, in float64.
 */

let tokenizer: Tokenizer | undefined;

/** c_v and c_a of a prompt: the connectors' masked states summed (video = 3 E, audio = E). */
export function tinyLtx2Conditioning(prompt: string): { video: number[]; audio: number[] } {
  tokenizer ??= new Tokenizer(tinyTokenizerJson(), tinyTokenizerConfig());
  const ids = truncatedIds(tokenizer, prompt.trim(), MAX_TOKENS);
  const sum = (d: number) => ids.reduce((s, id) => s + embedding(id, d), 0);
  return {
    video: Array.from({ length: TEXT_DIM }, (_, d) => Math.tanh(TEXT_GAIN * 3 * sum(d))),
    audio: Array.from({ length: TEXT_DIM }, (_, d) => Math.tanh(TEXT_GAIN * sum(d))),
  };
}

type Cond = ReturnType<typeof tinyLtx2Conditioning>;
interface Pass { c: Cond; isolate: boolean; perturbed: boolean }

export interface Ltx2Scales { guidance: number; stg: number; modality: number; rescale: number }

export interface TinyLtx2Target {
  prompt: string;
  negativePrompt: string;
  numFrames: number;
  width: number;
  height: number;
  fps: number;
  video: Ltx2Scales;
  audio: Ltx2Scales;
}

/** One pass's video x0, packed [S, C], tokens in (frame, row, column) order. */
function videoX0(p: Pass, frames: number, h: number, w: number): Float64Array {
  const out = new Float64Array(frames * h * w * CHANNELS);
  const strength = p.perturbed ? PERTURBED_SCALE : 1;
  const cv = p.c.video;
  let o = 0;
  for (let f = 0; f < frames; f++) {
    const tau = Math.max(0, TEMPORAL_FACTOR * f - (TEMPORAL_FACTOR - 1)) / Math.max(TEMPORAL_FACTOR * (frames - 1), 1);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const [u, v] = [(x + 0.5) / w, (y + 0.5) / h];
        for (let k = 0; k < CHANNELS; k++) {
          const phase = 2 * Math.PI * (FREQUENCY * cv[0]! * u + FREQUENCY * cv[1]! * v + cv[2]! * tau) + (2 * Math.PI * k) / CHANNELS;
          const cross = p.isolate ? 0 : CROSS_SCALE * p.c.audio[k]!;
          out[o++] = (LEVEL_SCALE * cv[k]! + PATTERN_SCALE * Math.sin(phase) + cross) * strength;
        }
      }
    }
  }
  return out;
}

/** One pass's audio x0, packed [L, C_a x M/4]. */
function audioX0(p: Pass, frames: number): Float64Array {
  const out = new Float64Array(frames * AUDIO_FEATURES);
  const strength = p.perturbed ? PERTURBED_SCALE : 1;
  for (let l = 0; l < frames; l++) {
    // Start of latent frame l in seconds (4 mel frames of 10 ms, causal first frame) over the sound's length.
    const ta = (Math.max(0, 4 * l - 3) * 0.01) / (0.04 * frames);
    for (let q = 0; q < AUDIO_FEATURES; q++) {
      const cross = p.isolate ? 0 : CROSS_SCALE * p.c.video[q]!;
      out[l * AUDIO_FEATURES + q] = (audioLevel(q) + AUDIO_TEXT_SCALE * p.c.audio[q]! + AUDIO_TIME_SCALE * Math.sin(2 * Math.PI * ta) + cross) * strength;
    }
  }
  return out;
}

const std = (a: Float64Array): number => {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  return Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / (a.length - 1));
};

/** diffusers' combination: cond + deltas of the passes that ran, then rescale_noise_cfg against cond. */
function guided(field: (p: Pass) => Float64Array, o: TinyLtx2Target, s: Ltx2Scales, cond: Cond, uncond: Cond): Float64Array {
  const cfg = o.video.guidance > 1 || o.audio.guidance > 1;
  const stg = o.video.stg > 0 || o.audio.stg > 0;
  const modality = o.video.modality > 1 || o.audio.modality > 1;
  const c = field({ c: cond, isolate: false, perturbed: false });
  const g = Float64Array.from(c);
  const addDelta = (scale: number, other: Float64Array) => g.forEach((_, i) => (g[i]! += scale * (c[i]! - other[i]!)));
  if (cfg) addDelta(s.guidance - 1, field({ c: uncond, isolate: false, perturbed: false }));
  if (stg) addDelta(s.stg, field({ c: cond, isolate: false, perturbed: true }));
  if (modality) addDelta(s.modality - 1, field({ c: cond, isolate: true, perturbed: false }));
  if (s.rescale <= 0) return g;
  const factor = std(c) / std(g);
  return g.map((v) => s.rescale * v * factor + (1 - s.rescale) * v);
}

/** RGB frames [F, H, W, 3] tinyltx2 must produce. */
export function tinyLtx2TargetFrames(o: TinyLtx2Target): Uint8Array {
  const [cond, uncond] = [tinyLtx2Conditioning(o.prompt), tinyLtx2Conditioning(o.negativePrompt)];
  const latentFrames = (o.numFrames - 1) / TEMPORAL_FACTOR + 1;
  const [h, w] = [o.height / SPATIAL_FACTOR, o.width / SPATIAL_FACTOR];
  const x0 = guided((p) => videoX0(p, latentFrames, h, w), o, o.video, cond, uncond);
  const out = new Uint8Array(o.numFrames * o.height * o.width * 3);
  for (let f = 0; f < o.numFrames; f++) {
    const lf = Math.ceil(f / TEMPORAL_FACTOR);
    for (let y = 0; y < o.height; y++) {
      for (let x = 0; x < o.width; x++) {
        const token = (lf * h + Math.floor(y / SPATIAL_FACTOR)) * w + Math.floor(x / SPATIAL_FACTOR);
        for (let j = 0; j < 3; j++) {
          let s = mixBias(j);
          for (let k = 0; k < CHANNELS; k++) s += mixWeight(j, k) * (x0[token * CHANNELS + k]! * LATENTS_STD[k]! + LATENTS_MEAN[k]!);
          out[((f * o.height + y) * o.width + x) * 3 + j] = roundHalfEven(Math.min(1, Math.max(0, Math.tanh(s) / 2 + 0.5)) * 255);
        }
      }
    }
  }
  return out;
}

/** The tone's frequency in Hz: 440 * 2^tanh(mean of the mel) over the guided, denormalised audio latents. */
export function tinyLtx2ToneHz(o: TinyLtx2Target): number {
  const [cond, uncond] = [tinyLtx2Conditioning(o.prompt), tinyLtx2Conditioning(o.negativePrompt)];
  const frames = roundHalfEven((o.numFrames / o.fps) * 25); // 16000 / 160 / 4 latent frames a second, rounded as Python does
  const x0 = guided((p) => audioX0(p, frames), o, o.audio, cond, uncond);
  let sum = 0;
  for (let l = 0; l < frames; l++) {
    // Mel frame 0 comes from latent frame 0, the next 4 from each later one.
    const weight = l === 0 ? 1 : 4;
    for (let q = 0; q < AUDIO_FEATURES; q++) sum += weight * (x0[l * AUDIO_FEATURES + q]! * AUDIO_LATENTS_STD[q]! + AUDIO_LATENTS_MEAN[q]!);
  }
  return BASE_TONE_HZ * 2 ** Math.tanh(sum / ((4 * frames - 3) * AUDIO_FEATURES));
}
