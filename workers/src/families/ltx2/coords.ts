import type { VideoGrid } from "./latents.js";

/** The RoPE grids' causal offset: the VAE's first latent frame stands for one frame, not a stride's worth. */
const CAUSAL_OFFSET = 1;
const f32 = Math.fround;

/**
 * `rope.prepare_video_coords` (patch 1) for one batch item: [3, S_v, 2], each token's [start, end) in
 * pixel space along (frame, height, width), the frame axis shifted for the causal first frame, clamped at
 * 0 and divided by fps (seconds). Float32 as the reference computes it.
 */
export function videoCoords(g: VideoGrid, factors: { temporal: number; spatial: number }, fps: number): Float32Array {
  const tokens = g.frames * g.height * g.width;
  const out = new Float32Array(3 * tokens * 2);
  const time = (f: number) => f32(Math.max(0, f * factors.temporal + CAUSAL_OFFSET - factors.temporal) / f32(fps));
  let s = 0;
  for (let f = 0; f < g.frames; f++) {
    for (let h = 0; h < g.height; h++) {
      for (let w = 0; w < g.width; w++, s++) {
        const at = (axis: number, start: number, end: number) => {
          out[(axis * tokens + s) * 2] = start;
          out[(axis * tokens + s) * 2 + 1] = end;
        };
        at(0, time(f), time(f + 1));
        at(1, h * factors.spatial, (h + 1) * factors.spatial);
        at(2, w * factors.spatial, (w + 1) * factors.spatial);
      }
    }
  }
  return out;
}

/**
 * `audio_rope.prepare_audio_coords` for one batch item: [1, S_a, 2], each audio latent frame's [start,
 * end) in seconds of the mel grid (4 mel frames a latent frame, causal first frame, clipped at 0).
 */
export function audioCoords(frames: number, melPerLatent: number, hopLength: number, sampleRate: number): Float32Array {
  const out = new Float32Array(frames * 2);
  const seconds = (f: number) => f32(f32(Math.max(0, f * melPerLatent + CAUSAL_OFFSET - melPerLatent) * hopLength) / sampleRate);
  for (let f = 0; f < frames; f++) {
    out[f * 2] = seconds(f);
    out[f * 2 + 1] = seconds(f + 1);
  }
  return out;
}

/** Repeats one batch item's values `batch` times (the CFG batch's coords, `repeat((2,) + ...)`). */
export function repeatBatch(one: Float32Array, batch: number): Float32Array {
  const out = new Float32Array(one.length * batch);
  for (let b = 0; b < batch; b++) out.set(one, b * one.length);
  return out;
}
