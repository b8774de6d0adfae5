/**
 * LTX2Pipeline's latent layouts with patch size 1. The noise is drawn in the VAE's layout and packed, as
 * diffusers does, so the same noise tensor gives the same packed latents.
 */

export interface VideoGrid {
  channels: number;
  frames: number;
  height: number;
  width: number;
}

export interface AudioGrid {
  /** AutoencoderKLLTX2Audio's latent_channels. */
  channels: number;
  /** Audio latent frames: round(duration * sample_rate / hop / 4). */
  frames: number;
  /** Latent mel bins: mel_bins / 4. */
  bins: number;
}

export const videoTokens = (g: VideoGrid): number => g.frames * g.height * g.width;
export const audioFeatures = (g: AudioGrid): number => g.channels * g.bins;

/** `_pack_latents` (patch 1): [C, F, H, W] -> [F*H*W, C]. */
export function packVideo(latent: Float32Array, g: VideoGrid): Float32Array {
  const tokens = videoTokens(g);
  const out = new Float32Array(latent.length);
  for (let c = 0; c < g.channels; c++) for (let s = 0; s < tokens; s++) out[s * g.channels + c] = latent[c * tokens + s]!;
  return out;
}

/** `_unpack_latents` (patch 1): [F*H*W, C] -> [C, F, H, W]. */
export function unpackVideo(packed: Float32Array, g: VideoGrid): Float32Array {
  const tokens = videoTokens(g);
  const out = new Float32Array(packed.length);
  for (let s = 0; s < tokens; s++) for (let c = 0; c < g.channels; c++) out[c * tokens + s] = packed[s * g.channels + c]!;
  return out;
}

/** `_pack_audio_latents` without patches: [C, L, M] -> [L, C*M] (transpose(1, 2).flatten(2, 3)). */
export function packAudio(latent: Float32Array, g: AudioGrid): Float32Array {
  const out = new Float32Array(latent.length);
  for (let c = 0; c < g.channels; c++) {
    for (let l = 0; l < g.frames; l++) {
      for (let m = 0; m < g.bins; m++) out[(l * g.channels + c) * g.bins + m] = latent[(c * g.frames + l) * g.bins + m]!;
    }
  }
  return out;
}

/** `_unpack_audio_latents`: [L, C*M] -> [C, L, M]. */
export function unpackAudio(packed: Float32Array, g: AudioGrid): Float32Array {
  const out = new Float32Array(packed.length);
  for (let c = 0; c < g.channels; c++) {
    for (let l = 0; l < g.frames; l++) {
      for (let m = 0; m < g.bins; m++) out[(c * g.frames + l) * g.bins + m] = packed[(l * g.channels + c) * g.bins + m]!;
    }
  }
  return out;
}

const f32 = Math.fround;

/**
 * `_denormalize_latents` on [C, F, H, W]: `latents * latents_std / scaling_factor + latents_mean`, in
 * float32 like the reference. Returns a new array.
 */
export function denormaliseVideo(latent: Float32Array, g: VideoGrid, mean: Float32Array, std: Float32Array, scalingFactor: number): Float32Array {
  const plane = videoTokens(g);
  const out = new Float32Array(latent.length);
  const scale = f32(scalingFactor);
  for (let c = 0; c < g.channels; c++) {
    const s = std[c]!;
    const m = mean[c]!;
    for (let i = c * plane; i < (c + 1) * plane; i++) out[i] = f32(f32(f32(latent[i]! * s) / scale) + m);
  }
  return out;
}

/** `_denormalize_audio_latents` on the packed [L, C*M]: `latents * latents_std + latents_mean` per feature. In place. */
export function denormaliseAudio(packed: Float32Array, mean: Float32Array, std: Float32Array): Float32Array {
  const features = mean.length;
  for (let i = 0; i < packed.length; i++) packed[i] = f32(f32(packed[i]! * std[i % features]!) + mean[i % features]!);
  return packed;
}

/**
 * The VAE decode noise of a timestep-conditioned decoder: `(1 - s) * latents + s * noise` on the
 * unpacked, still normalised latent. In place.
 */
export function addDecodeNoise(latent: Float32Array, noise: Float32Array, scale: number): Float32Array {
  const s = f32(scale);
  const keep = f32(1 - s);
  for (let i = 0; i < latent.length; i++) latent[i] = f32(f32(keep * latent[i]!) + f32(s * noise[i]!));
  return latent;
}
