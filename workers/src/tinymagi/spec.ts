import { embedding } from "../tiny/spec.js";

// The text side is tinywan's (its tokenizer and text encoder, the same caption of a prompt).
export { MAX_TOKENS, TEXT_DIM, TEXT_GAIN } from "../tinywan/spec.js";

/**
 * The built-in `tinymagi` model: a replica of a MAGI-1 export (the folder layout, graph inputs and
 * outputs and dtypes of magi-contract.md, Sand AI's config keys) whose video is known in closed form:
 *
 *   prompt -> T5-style ids (+ `</s>`) -> text encoder (tinywan's): E[id] at real tokens, PAD[l] elsewhere
 *   transformer, per batch item b and chunk j of its n chunks (float16 at its boundary):
 *     c = NULL (the model's own null caption) where caption_dropout[b, j], else
 *         tanh(0.5 * sum over positions with encoder_attention_mask 1 of the states) (pads must not count)
 *     P[k] at chunk frame f (of chunk_width), row y, column x, with u = (x + 0.5) / w, v = (y + 0.5) / h,
 *       s = f / (chunk_width - 1):  P[k] = 0.3 c[k] + 0.4 sin(2 pi (1.5 c0 u + 1.5 c1 v + c2 s) + 2 pi k / 16)
 *     ctx = the mean of the chunks j attends to before itself (kv_range [start, end): start .. end - 2),
 *       as given in hidden_states; 0 when there are none
 *     target T = P + 0.4 ctx, velocity (T - x_j) / (1 - t[b, j]): exact toward T in MAGI's time
 *     (0 noise, 1 clean; x += v dt), so the last step of a chunk lands on its guided target
 *   platform: MAGI's three passes at the last step of chunk j (its window position 0, its context chunk j - 1)
 *     give final_j = P(NULL) + s (P(prompt) - P(NULL)) + p 0.4 final_(j-1) (final_(-1) = 0), with (p, s)
 *     the guidance table's scales at that step's time; then divided by scale_factor
 *   VAE decoder: rgb[j] = tanh(sum_k A[j][k] z[k]) float32 [1, 3, 4 chunk_width, 8h, 8w] in [-1, 1], each
 *     latent frame repeated 4 times and each cell 8x8 (MAGI's VAE has no extra first frame).
 * slice_point (RoPE positions in a real export) does not change the replica's output.
 */
export const TINYMAGI_GENERATOR_VERSION = "tinymagi-3";
export const TINYMAGI_NAME = "tinymagi";

export const CHANNELS = 16;
export const SPATIAL_FACTOR = 8;
export const TEMPORAL_FACTOR = 4;
export const CHUNK_WIDTH = 6;
export const LEVEL_SCALE = 0.3;
export const PATTERN_SCALE = 0.4;
export const FREQUENCY = 1.5;
export const CONTEXT_GAIN = 0.4;
export const SCALE_FACTOR = 0.18215;

/**
 * MAGI-1 4.5B's runtime_config, except the guidance table: with an exact velocity only a chunk's last
 * step decides where it lands, and 4.5B's table has no text guidance there (t >= 0.3), which would leave
 * the replica's video independent of the prompt. Here text and previous-chunk guidance reach t = 0.999.
 */
export const TINYMAGI_RUNTIME_CONFIG = {
  cfg_number: 3,
  cfg_t_range: [0.0, 0.0217, 0.1, 0.3, 0.999],
  prev_chunk_scales: [1.5, 1.5, 1.5, 1.5, 1.0],
  text_scales: [7.5, 7.5, 7.5, 7.5, 0.0],
  noise2clean_kvrange: [5, 4, 3, 2],
  clean_chunk_kvrange: 1,
  clean_t: 0.9999,
  seed: 1234,
  num_frames: 96,
  video_size_h: 64,
  video_size_w: 64,
  num_steps: 8,
  window_size: 4,
  fps: 24,
  chunk_width: CHUNK_WIDTH,
  scale_factor: SCALE_FACTOR,
  temporal_downsample_factor: TEMPORAL_FACTOR,
};

/** The model's null caption as the replica's transformer sees it (MAGI's y_embedder.null_caption_embedding). */
export const nullCaption = (k: number): number => Math.fround(Math.tanh(embedding(9000, k)));

/** The decoder's mixing weights A[j][k], scaled so a latent divided by scale_factor lands in tanh's range. */
export const mixWeight = (j: number, k: number): number => Math.fround(SCALE_FACTOR * 0.06 * embedding(7100 + j, k));

