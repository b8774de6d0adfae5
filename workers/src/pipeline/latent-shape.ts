import type { Manifest } from "@videosdgx/shared";

export interface LatentShape {
  channels: number;
  frames: number;
  height: number;
  width: number;
  /** Transformer tokens: what dynamic shifting scales with. */
  tokens: number;
}

/** Causal video VAEs keep the first frame and compress the rest: F = tf*(T-1)+1 for Wan and LTX. */
export function latentShape(m: Manifest, numFrames: number, width: number, height: number): LatentShape {
  const { channels, spatial_factor: sf, temporal_factor: tf, patch } = m.latent;
  const frames = Math.floor((numFrames - 1) / tf) + 1;
  const h = height / sf;
  const w = width / sf;
  const tokens = Math.ceil(frames / patch[0]) * Math.ceil(h / patch[1]) * Math.ceil(w / patch[2]);
  return { channels, frames, height: h, width: w, tokens };
}

export const latentDims = (s: LatentShape, batch: number): number[] => [batch, s.channels, s.frames, s.height, s.width];
export const latentSize = (s: LatentShape): number => s.channels * s.frames * s.height * s.width;
