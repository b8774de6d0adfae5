/**
 * The built-in tiny model's design. Its graphs are small, but they are real ONNX graphs run by the same
 * pipeline as any model, and its output is known in closed form so tests can check every stage:
 *
 *   prompt -> token ids -> embeddings E[id] in [-1, 1]^D (masked) -> c = tanh(sum over tokens) in (-1, 1)^D
 *   target latent x0 (4 channels, at latent frame f of F, row y of H, column x of W):
 *     u = (x + 0.5) / W, v = (y + 0.5) / H, t = f / max(F - 1, 1)
 *     x0[k] = 0.4 c[k] + 0.25 sin(2 pi (1.5 c3 u + 1.5 c4 v + c5 t) + 2 pi k / 3)   k = 0, 1, 2 (colour)
 *     x0[3] = 0.5 c7                                                               (brightness)
 *   transformer: velocity (x - x0) / sigma, sigma = timestep / 1000: the exact flow-matching velocity
 *   for x_sigma = (1 - sigma) x0 + sigma noise, so Euler sampling lands on x0 (under guidance g: on
 *   x0_uncond + g (x0_cond - x0_uncond)).
 *   VAE decoder: rgb = x[0:3] + 0.1 x[3], pixel = round(127.5 rgb + 127.5) clipped to 0..255, each latent
 *   cell repeated 8x8; output frame 0 from latent frame 0, frames 4(j-1)+1 .. 4j from latent frame j.
 */
export const TINY_GENERATOR_VERSION = "tiny-4";
export const EMBED_DIM = 8;
export const CHANNELS = 4;
export const SPATIAL_FACTOR = 8;
export const TEMPORAL_FACTOR = 4;
export const COLOUR_SCALE = 0.4;
export const PATTERN_SCALE = 0.25;
export const FREQUENCY = 1.5;
export const BRIGHTNESS_SCALE = 0.5;
export const BRIGHTNESS_MIX = 0.1;

/** Embedding value for (token, dim): a fixed hash, so the table needs no stored weights to reproduce. */
export function embedding(tokenId: number, dim: number): number {
  let h = Math.imul(tokenId + 1, 0x9e3779b1) ^ Math.imul(dim + 1, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  h ^= h >>> 15;
  return Math.fround(((h >>> 0) / 0xffffffff) * 2 - 1);
}
