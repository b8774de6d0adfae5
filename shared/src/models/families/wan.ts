import type { Manifest } from "../manifest.js";
import { DIFFUSERS_FILES, FLOAT_TYPES, TEXT_ENCODER_CONTRACT, type FamilyContract, type ReadJson } from "./contract.js";

export const WAN_VAE_CONFIG = "vae_decoder/config.json";

/**
 * The reference pipeline's documented negative prompt (diffusers' WanPipeline example; the English of
 * Wan 2.1's own `sample_neg_prompt`). diffusers' `__call__` itself falls back to "" when none is given.
 */
export const WAN_NEGATIVE_PROMPT =
  "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, static, " +
  "overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, extra fingers, " +
  "poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, fused fingers, still picture, " +
  "messy background, three legs, many people in the background, walking backwards";

export interface WanLatentStats {
  mean: Float32Array;
  std: Float32Array;
}

/** latents_mean and latents_std of the VAE's config.json, one finite number per latent channel (stds > 0). */
export function parseWanVaeConfig(json: unknown, channels: number): WanLatentStats {
  const config = (json ?? {}) as Record<string, unknown>;
  const vector = (key: string, positive: boolean): Float32Array => {
    const v = config[key];
    if (!Array.isArray(v) || v.length !== channels || !v.every((x) => typeof x === "number" && Number.isFinite(x) && (!positive || x > 0))) {
      const got = Array.isArray(v) ? `${v.length} values` : JSON.stringify(v) ?? "nothing";
      throw new Error(`${WAN_VAE_CONFIG}: ${key} must be ${channels} finite${positive ? " positive" : ""} numbers (one per latent channel), got ${got}`);
    }
    return Float32Array.from(v as number[]);
  };
  if (config.z_dim !== undefined && config.z_dim !== channels) {
    throw new Error(`${WAN_VAE_CONFIG}: z_dim is ${JSON.stringify(config.z_dim)}, but videosdgx.json says latent.channels ${channels}`);
  }
  return { mean: vector("latents_mean", false), std: vector("latents_std", true) };
}

async function checkWanFolder(manifest: Manifest, readJson: ReadJson): Promise<string | undefined> {
  const { frames, resolution } = manifest.constraints;
  if (frames.step % 4 !== 0 || frames.offset !== 1) return `videosdgx.json: family wan needs frames 4k+1 (constraints.frames step a multiple of 4, offset 1)`;
  if (resolution.multiple % 16 !== 0) return `videosdgx.json: family wan needs sizes that are multiples of 16 (constraints.resolution.multiple)`;
  for (const size of Object.keys(manifest.sampling?.flow_shift_by_size ?? {})) {
    const [w, h] = size.split("x").map(Number) as [number, number];
    if (w % resolution.multiple !== 0 || h % resolution.multiple !== 0) {
      return `videosdgx.json: sampling.flow_shift_by_size has ${size}, which is not a multiple of ${resolution.multiple}`;
    }
  }
  try {
    parseWanVaeConfig(await readJson(WAN_VAE_CONFIG), manifest.latent.channels);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/** Wan 2.1 text-to-video as diffusers' WanPipeline runs it, on a folder of the shape wan-contract.md gives. */
export const wanContract: FamilyContract = {
  name: "wan",
  files: [...DIFFUSERS_FILES, WAN_VAE_CONFIG],
  graphs: {
    "text_encoder/model.onnx": TEXT_ENCODER_CONTRACT,
    "transformer/model.onnx": {
      inputs: [
        { name: "hidden_states", types: FLOAT_TYPES, rank: 5, shape: "[B, 16, F_lat, H/8, W/8]" },
        { name: "timestep", types: [...FLOAT_TYPES, "int64"], rank: 1, shape: "[B]" },
        { name: "encoder_hidden_states", types: FLOAT_TYPES, rank: 3, shape: "[B, L, D_text]" },
      ],
      outputs: [{ name: "out_sample", types: FLOAT_TYPES, rank: 5, shape: "[B, 16, F_lat, H/8, W/8]" }],
    },
    "vae_decoder/model.onnx": {
      inputs: [{ name: "latent_sample", types: FLOAT_TYPES, rank: 5, shape: "[B, 16, F_lat, H/8, W/8]" }],
      outputs: [{ name: "sample", types: FLOAT_TYPES, rank: 5, shape: "[B, 3, F, H, W] in [-1, 1]" }],
    },
  },
  defaultNegativePrompt: WAN_NEGATIVE_PROMPT,
  checkFolder: checkWanFolder,
};
