import type { FrameSize } from "./decode.js";

/**
 * A decoder's video [1, 3, F, H, W] in [-1, 1] as uint8 RGB frames [F, H, W, 3], as diffusers'
 * VideoProcessor postprocesses it: (x / 2 + 0.5).clamp(0, 1), then (x * 255).round() (numpy rounds
 * halves to even). Computed in float32 like the reference; one pass over the frames.
 */
export function videoToRgb(video: Float32Array, size: FrameSize): Uint8Array {
  const plane = size.height * size.width;
  const frameCount = size.frames;
  const channelStride = frameCount * plane;
  const out = new Uint8Array(frameCount * plane * 3);
  const f32 = new Float32Array(1);
  for (let f = 0; f < frameCount; f++) {
    for (let p = 0; p < plane; p++) {
      for (let k = 0; k < 3; k++) {
        f32[0] = video[k * channelStride + f * plane + p]! / 2 + 0.5;
        const unit = Math.min(1, Math.max(0, f32[0]!));
        f32[0] = unit * 255;
        out[(f * plane + p) * 3 + k] = roundHalfEven(f32[0]!);
      }
    }
  }
  return out;
}

/** numpy's round: halves to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
