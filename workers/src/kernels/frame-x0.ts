/** One strided source of an x0 estimate: the latent itself or one pass's velocity, with its weight. */
export interface FrameTerm {
  data: Float32Array;
  weight: number;
  /** Index of the frame's first pixel of `channel` in `data`. */
  offset(channel: number): number;
}

/** The latent frame a preview shows: the middle one (the first for a single frame). */
export const previewLatentFrame = (frames: number): number => Math.floor((frames - 1) / 2);

/**
 * One latent frame's x0 estimate as a weighted sum of the latent and the velocities it is made of (flow
 * models: x0 = x - sigma * v, v itself a guided mix of passes), gathered channel-major [C, pixels] from
 * whatever layout the family keeps (`stride` between a channel's consecutive pixels). One frame, not the
 * whole latent: C x H x W values, a short loop beside the sampler's own pass over every frame.
 */
export function frameX0(channels: number, pixels: number, stride: number, terms: readonly FrameTerm[]): Float32Array {
  const out = new Float32Array(channels * pixels);
  let first = true;
  for (const { data, weight, offset } of terms) {
    if (weight === 0) continue;
    for (let c = 0; c < channels; c++) {
      const from = offset(c);
      const to = c * pixels;
      // An estimate the sampler already made (UniPC's model output): a copy per channel.
      if (first && weight === 1 && stride === 1) out.set(data.subarray(from, from + pixels), to);
      else for (let p = 0; p < pixels; p++) out[to + p]! += weight * data[from + p * stride]!;
    }
    first = false;
  }
  return out;
}

/** The previewed frame of a whole latent's x0 estimate laid out [C, F, H, W]. */
export function previewFrameOf(x0: Float32Array, channels: number, frames: number, pixels: number): Float32Array {
  const frame = previewLatentFrame(frames);
  return frameX0(channels, pixels, 1, [{ data: x0, weight: 1, offset: (c) => (c * frames + frame) * pixels }]);
}
