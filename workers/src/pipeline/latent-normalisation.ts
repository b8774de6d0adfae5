import type { LatentShape } from "./latent-shape.js";

export interface LatentStats {
  mean: Float32Array;
  std: Float32Array;
}

/**
 * The sampler's latent back in the VAE's own scale before decoding, per channel, as diffusers' Wan
 * pipeline writes it: `latents / (1 / latents_std) + latents_mean` in float32. Returns a new array.
 */
export function denormaliseLatent(latent: Float32Array, shape: LatentShape, stats: LatentStats): Float32Array {
  const plane = shape.frames * shape.height * shape.width;
  if (stats.mean.length !== shape.channels || stats.std.length !== shape.channels) {
    throw new Error(`latent statistics have ${stats.mean.length} means and ${stats.std.length} stds for ${shape.channels} channels`);
  }
  const out = new Float32Array(latent.length);
  for (let c = 0; c < shape.channels; c++) {
    const inverse = Math.fround(1 / stats.std[c]!);
    const mean = stats.mean[c]!;
    for (let i = c * plane; i < (c + 1) * plane; i++) out[i] = Math.fround(latent[i]! / inverse) + mean;
  }
  return out;
}
