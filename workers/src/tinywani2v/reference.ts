import { roundHalfEven } from "../pipeline/video-frames.js";
import { SPATIAL_FACTOR } from "../tinywan/spec.js";
import { CLIP_LIMIT } from "./spec.js";

/**
 * The first frame tinywani2v must produce from an image already at the job's size (uint8 RGB [H, W, 3]):
 * each 8x8 cell's mean in [-1, 1], clipped as the VAE encoder clips it, back to uint8 as diffusers rounds.
 */
export function tinyWanI2vFirstFrame(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const s = SPATIAL_FACTOR;
  for (let by = 0; by < height; by += s) {
    for (let bx = 0; bx < width; bx += s) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let y = by; y < by + s; y++) for (let x = bx; x < bx + s; x++) sum += (rgb[(y * width + x) * 3 + c]! / 255) * 2 - 1;
        const p = Math.min(CLIP_LIMIT, Math.max(-CLIP_LIMIT, sum / (s * s)));
        const level = roundHalfEven((p / 2 + 0.5) * 255);
        for (let y = by; y < by + s; y++) for (let x = bx; x < bx + s; x++) out[(y * width + x) * 3 + c] = level;
      }
    }
  }
  return out;
}
