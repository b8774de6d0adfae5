import { embedding } from "../tiny/spec.js";
import { CHANNELS, mixWeight } from "../tinywan/spec.js";

/**
 * The built-in `tinywani2v` model: a replica of a Wan 2.1 image-to-video export (tinywan's folder plus
 * image_encoder/, vae_encoder/, image_processor/ and a 36-channel transformer with
 * encoder_hidden_states_image, as WanImageToVideoPipeline feeds them) whose output is known in closed form:
 *
 *   image encoder: pixel_values [B, 3, 224, 224] -> 14x14 patch means projected to 16 dims, after a class
 *   token (their mean): image_embeds [B, 257, 16], like CLIP ViT-H/14's penultimate states [B, 257, 1280]
 *   VAE encoder: sample [1, 3, F, H, W] in [-1, 1] -> each 8x8 cell's mean p (frame 0 alone, then groups of
 *   4 frames, as Wan's causal VAE packs time), clipped to +-0.999, z = A+ (atanh(p) - b) with A+ the
 *   pseudo-inverse of the decoder's mixing matrix: so the decoder, tanh(A z + b), gives back p exactly
 *   transformer: hidden_states [B, 36] = noise latent x (16), mask (4), condition (16); with m the mean of
 *   the mask channels and e = tanh(0.5 * mean over tokens of image_embeds):
 *     x0 = m * condition + (1 - m) * (tinywan's prompt target + 0.3 e)
 *   and the exact flow velocity toward it. With diffusers' mask (ones on latent frame 0 only) the first
 *   frame of the video is the image's 8x8 cell means; a pipeline that packed the mask another way, or did
 *   not normalise the condition with the VAE's statistics, would not land there.
 */
export const TINYWANI2V_GENERATOR_VERSION = "tinywani2v-2";
export const TINYWANI2V_NAME = "tinywani2v";

export const IMAGE_DIM = 16;
export const CLIP_SIZE = 224;
export const CLIP_PATCH = 14;
export const IMAGE_TOKENS = (CLIP_SIZE / CLIP_PATCH) ** 2 + 1;
export const MASK_CHANNELS = 4;
export const IMAGE_GAIN = 0.5;
export const IMAGE_LEVEL = 0.3;
/** atanh is infinite at +-1: pixel means are clipped to this before inverting the decoder's tanh. */
export const CLIP_LIMIT = 0.999;

/** The image encoder's projection P[j][d] of a patch's mean RGB j to dimension d. */
export const imageProjection = (j: number, d: number): number => Math.fround(0.8 * embedding(9000 + j, d));

/** A+ = A^T (A A^T)^-1 for the decoder's 3 x 16 mixing matrix A: A A+ = I, so tanh(A A+ y + b - b) = tanh(y). */
export function decoderPseudoInverse(): Float32Array {
  const a = Array.from({ length: 3 }, (_, j) => Array.from({ length: CHANNELS }, (_, k) => mixWeight(j, k)));
  const m = a.map((r) => a.map((s) => r.reduce((acc, v, k) => acc + v * s[k]!, 0)));
  const [[p, q, r], [s, t, u], [v, w, x]] = m as [[number, number, number], [number, number, number], [number, number, number]];
  const det = p * (t * x - u * w) - q * (s * x - u * v) + r * (s * w - t * v);
  const inv = [
    [t * x - u * w, r * w - q * x, q * u - r * t],
    [u * v - s * x, p * x - r * v, r * s - p * u],
    [s * w - t * v, q * v - p * w, p * t - q * s],
  ].map((row) => row.map((e) => e / det));
  // A+[k][j] = sum_i A[i][k] inv[i][j]
  const out = new Float32Array(CHANNELS * 3);
  for (let k = 0; k < CHANNELS; k++) for (let j = 0; j < 3; j++) out[k * 3 + j] = a.reduce((acc, row, i) => acc + row[k]! * inv[i]![j]!, 0);
  return out;
}
