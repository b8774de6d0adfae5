import { roundHalfEven } from "../pipeline/video-frames.js";
import { tinyWanConditioning } from "../tinywan/reference.js";
import {
  CHANNELS, CHUNK_WIDTH, CONTEXT_GAIN, FREQUENCY, LEVEL_SCALE, PATTERN_SCALE, SCALE_FACTOR, SPATIAL_FACTOR,
  TEMPORAL_FACTOR, TEXT_DIM, mixWeight, nullCaption,
} from "./spec.js";

/**
 * tinymagi's analytic video in plain TypeScript from spec.ts (no ONNX Runtime, no sampler): what tests
 * compare against. Its text encoder and caption are tinywan's, so a prompt's caption c is tinywan's.
 */
export const tinyMagiConditioning = tinyWanConditioning;

function pattern(c: number[], k: number, s: number, u: number, v: number): number {
  const phase = 2 * Math.PI * (FREQUENCY * c[0]! * u + FREQUENCY * c[1]! * v + c[2]! * s) + (2 * Math.PI * k) / CHANNELS;
  return LEVEL_SCALE * c[k]! + PATTERN_SCALE * Math.sin(phase);
}

export interface TinyMagiTarget {
  prompt: string;
  numFrames: number;
  width: number;
  height: number;
  /** The guidance table's scales at each chunk's last step. */
  prevScale: number;
  textScale: number;
  /** False: what a pipeline that never shows a chunk its predecessor would make. */
  withPrevious?: boolean;
}

/** The clean latents [chunk][16, cw, h, w] the pipeline must reach: final_j = P(null) + s dP + p 0.4 final_(j-1). */
export function tinyMagiLatents(o: TinyMagiTarget): Float64Array[] {
  const cond = tinyMagiConditioning(o.prompt);
  const none = Array.from({ length: TEXT_DIM }, (_, k) => nullCaption(k));
  const [h, w] = [o.height / SPATIAL_FACTOR, o.width / SPATIAL_FACTOR];
  const plane = CHUNK_WIDTH * h * w;
  const chunks: Float64Array[] = [];
  for (let j = 0; j < o.numFrames / (CHUNK_WIDTH * TEMPORAL_FACTOR); j++) {
    const prev = j > 0 && o.withPrevious !== false ? chunks[j - 1] : undefined;
    const latent = new Float64Array(CHANNELS * plane);
    for (let k = 0; k < CHANNELS; k++) {
      for (let f = 0; f < CHUNK_WIDTH; f++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const [s, u, v] = [f / (CHUNK_WIDTH - 1), (x + 0.5) / w, (y + 0.5) / h];
            const i = k * plane + (f * h + y) * w + x;
            const pNull = pattern(none, k, s, u, v);
            latent[i] = pNull + o.textScale * (pattern(cond, k, s, u, v) - pNull) + o.prevScale * CONTEXT_GAIN * (prev?.[i] ?? 0);
          }
        }
      }
    }
    chunks.push(latent);
  }
  return chunks;
}

/** RGB frames [F, H, W, 3] of those latents through the decoder and diffusers' rounding. */
export function tinyMagiTargetFrames(o: TinyMagiTarget): Uint8Array {
  const [h, w] = [o.height / SPATIAL_FACTOR, o.width / SPATIAL_FACTOR];
  const plane = CHUNK_WIDTH * h * w;
  const out = new Uint8Array(o.numFrames * o.height * o.width * 3);
  tinyMagiLatents(o).forEach((latent, j) => {
    for (let f = 0; f < CHUNK_WIDTH * TEMPORAL_FACTOR; f++) {
      const lf = Math.floor(f / TEMPORAL_FACTOR);
      for (let y = 0; y < o.height; y++) {
        for (let x = 0; x < o.width; x++) {
          const cell = (lf * h + Math.floor(y / SPATIAL_FACTOR)) * w + Math.floor(x / SPATIAL_FACTOR);
          for (let c = 0; c < 3; c++) {
            let sum = 0;
            for (let k = 0; k < CHANNELS; k++) sum += mixWeight(c, k) * (latent[k * plane + cell]! / SCALE_FACTOR);
            const unit = Math.min(1, Math.max(0, Math.tanh(sum) / 2 + 0.5));
            const frame = j * CHUNK_WIDTH * TEMPORAL_FACTOR + f;
            out[((frame * o.height + y) * o.width + x) * 3 + c] = roundHalfEven(unit * 255);
          }
        }
      }
    }
  });
  return out;
}
