import { embedding } from "../tiny/spec.js";

/**
 * The built-in `tinyltx2` model: a replica of an LTX-2 export (the folder layout, graph inputs and outputs,
 * dtypes and configs of the ltx2 family's contract) whose video and sound are known in closed form:
 *
 *   prompt -> ids, left-padded -> text encoder: per layer k (2 layers) E[id] * (k + 1) at real tokens,
 *   PAD[l] where the mask is 0; stacked on a last axis and flattened, [B, L, 8 x 2]
 *   connectors: video = (layer0 + layer1) * mask, audio = (layer1 - layer0) * mask, the mask passed on
 *   transformer: c_v = tanh(0.5 sum_l video * mask), c_a = tanh(0.5 sum_l audio * mask) (8 values each);
 *     from the video coords (seconds, pixels) and the scalar inputs: u = w_mid / (32 width),
 *     v = h_mid / (32 height), tau = t_start fps / max(8 (num_frames - 1), 1); keep = 1 - isolate_modalities
 *     x0_v[s, k] = (0.5 c_v[k] + 0.3 sin(2 pi (1.5 c_v0 u + 1.5 c_v1 v + c_v2 tau) + 2 pi k / 8) + keep 0.2 c_a[k]) p
 *     from the audio coords: ta = t_start / (0.04 audio_num_frames)
 *     x0_a[l, q] = (A[q] + 0.3 c_a[q] + 0.1 sin(2 pi ta) + keep 0.2 c_v[q]) p
 *   with p = 0.8 + 0.2 perturbation_mask (STG's pass sees a weaker sample), and the exact flow velocities
 *   (x - x0) / sigma, sigma = the `sigma` input / 1000; float16 latents and text states at its boundary
 *   platform: guidance in x0 space lands the latents on the guided, rescaled x0; denormalisation
 *   video VAE decoder: rgb[j] = tanh(sum_k W[j][k] z[k] + b[j]), [1, 3, 8(F-1)+1, 32H, 32W] in [-1, 1]
 *   audio VAE decoder: mel[ch, t, m] = z[ch, ceil(t / 4), floor(m / 4)], [1, 2, 4L - 3, 16]
 *   vocoder: a tone, f = 440 * 2^tanh(mean of the mel) Hz, 0.5 sin(2 pi f n / 24000 + ch pi / 2),
 *   240 samples a mel frame: so the prompt (through c_a and guidance) sets the pitch, 220 to 880 Hz.
 */
export const TINYLTX2_GENERATOR_VERSION = "tinyltx2-2";
export const TINYLTX2_NAME = "tinyltx2";

export const TEXT_DIM = 8;
export const TEXT_LAYERS = 2;
export const MAX_TOKENS = 32;
export const CHANNELS = 8;
export const SPATIAL_FACTOR = 32;
export const TEMPORAL_FACTOR = 8;
export const AUDIO_CHANNELS = 2;
export const MEL_BINS = 16;
export const AUDIO_FEATURES = AUDIO_CHANNELS * (MEL_BINS / 4);
export const AUDIO_SAMPLE_RATE = 16000;
export const MEL_HOP = 160;
export const OUTPUT_SAMPLE_RATE = 24000;
/** Waveform samples per mel frame: 24000 / (16000 / 160). */
export const VOCODER_HOP = 240;
/** Seconds an audio latent frame spans: 4 mel frames of 160 / 16000 s. */
export const AUDIO_LATENT_SECONDS = (4 * MEL_HOP) / AUDIO_SAMPLE_RATE;

export const TEXT_GAIN = 0.5;
export const LEVEL_SCALE = 0.5;
export const PATTERN_SCALE = 0.3;
export const FREQUENCY = 1.5;
export const CROSS_SCALE = 0.2;
export const AUDIO_TEXT_SCALE = 0.3;
export const AUDIO_TIME_SCALE = 0.1;
export const PERTURBED_SCALE = 0.8;
export const BASE_TONE_HZ = 440;
export const TONE_AMPLITUDE = 0.5;

/** Video latent statistics (vae_decoder/config.json) and the audio's (audio_vae_decoder/config.json). */
export const LATENTS_MEAN = [0.12, -0.31, 0.05, 0.4, -0.2, 0.27, -0.08, 0.16];
export const LATENTS_STD = [1.3, 0.8, 1.1, 0.95, 1.25, 0.7, 1.05, 0.9];
export const AUDIO_LATENTS_MEAN = [0.05, -0.1, 0.02, 0.08, -0.04, 0.1, -0.06, 0.03];
export const AUDIO_LATENTS_STD = [0.9, 1.1, 0.8, 1.2, 1.0, 0.85, 1.15, 0.95];

/** The audio target's per-feature level A[q]. */
export const audioLevel = (q: number): number => Math.fround(0.15 * embedding(9000, q));

/** The text encoder's state at a masked (pad) position l. */
export const padState = (l: number, d: number): number => Math.fround(0.5 * embedding(5000 + l, d));

/** The video decoder's mixing weights W[j][k] (RGB j from latent channel k) and bias (cancels the means). */
export const mixWeight = (j: number, k: number): number => Math.fround(0.35 * embedding(7100 + j, k));
export const mixBias = (j: number): number =>
  Math.fround(-LATENTS_MEAN.reduce((s, m, k) => s + mixWeight(j, k) * Math.fround(m), 0));

export { embedding };
