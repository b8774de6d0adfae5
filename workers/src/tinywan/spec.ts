import { embedding } from "../tiny/spec.js";

/**
 * The built-in `tinywan` model: a replica of a Wan 2.1 export (the same folder layout, graph inputs and
 * outputs, dtypes and configs as wan-contract.md) whose output is known in closed form:
 *
 *   prompt -> umT5-style ids (+ `</s>`) -> text encoder: E[id] at real tokens, PAD[l] (not zero, as a
 *   real encoder's states at pad positions are not) where the mask is 0
 *   platform: states cut to each prompt's length and zero-padded (so PAD never reaches the transformer)
 *   transformer: c = tanh(0.5 * sum over all L positions of the states) in (-1, 1)^16 (the padded region
 *   counts: un-zeroed pads would change c), target latent (normalised, 16 channels) at latent frame f of
 *   F, row y of H, column x of W, with u = (x + 0.5) / W, v = (y + 0.5) / H, t = f / max(F - 1, 1):
 *     x0[k] = 0.5 c[k] + 0.3 sin(2 pi (1.5 c0 u + 1.5 c1 v + c2 t) + 2 pi k / 16)
 *   and the exact flow velocity (x - x0) / sigma with sigma = timestep / 1000; float16 at its boundary,
 *   int64 timesteps (UniPC's integers).
 *   platform: z = x0 * latents_std + latents_mean per channel (vae_decoder/config.json)
 *   VAE decoder: rgb[j] = tanh(sum_k A[j][k] z[k] + b[j]), float32 [1, 3, 4(F-1)+1, 8H, 8W] in [-1, 1],
 *   each latent cell repeated 8x8; frame 0 from latent frame 0, frames 4(i-1)+1 .. 4i from latent frame i.
 *   b cancels the default latents_mean, so other means in the config move the picture.
 */
export const TINYWAN_GENERATOR_VERSION = "tinywan-2";
export const TINYWAN_NAME = "tinywan";

export const TEXT_DIM = 16;
export const CHANNELS = 16;
export const MAX_TOKENS = 64;
export const SPATIAL_FACTOR = 8;
export const TEMPORAL_FACTOR = 4;
export const LEVEL_SCALE = 0.5;
export const PATTERN_SCALE = 0.3;
export const FREQUENCY = 1.5;
export const TEXT_GAIN = 0.5;

/** Wan 2.1's own VAE statistics (AutoencoderKLWan's config), so the replica's numbers look like the real ones. */
export const LATENTS_MEAN = [
  -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
  0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921,
];
export const LATENTS_STD = [
  2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
  3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.916,
];

/** The text encoder's state at a masked (pad) position l. */
export const padState = (l: number, d: number): number => Math.fround(0.5 * embedding(5000 + l, d));

/** The decoder's mixing weights A[j][k] (RGB j from latent channel k). */
export const mixWeight = (j: number, k: number): number => Math.fround(0.12 * embedding(7000 + j, k));

/** The decoder's bias: cancels the default means, so the default picture is centred. */
export const mixBias = (j: number): number =>
  Math.fround(-LATENTS_MEAN.reduce((s, m, k) => s + mixWeight(j, k) * Math.fround(m), 0));

export { embedding };
