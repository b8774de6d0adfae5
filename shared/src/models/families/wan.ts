import type { Manifest } from "../manifest.js";
import { DIFFUSERS_FILES, FLOAT_TYPES, TEXT_ENCODER_CONTRACT, type FamilyContract, type GraphContract, type ReadJson } from "./contract.js";

export const WAN_VAE_CONFIG = "vae_decoder/config.json";
/** CLIPImageProcessor's config, as WanImageToVideoPipeline.save_pretrained writes its `image_processor`. */
export const WAN_IMAGE_PROCESSOR_CONFIG = "image_processor/preprocessor_config.json";

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

/** What the platform does to an image before the image encoder, as CLIPImageProcessor does it. */
export interface ClipPreprocessing {
  /** Resize so the shorter side is this (bicubic), then centre-crop to crop_size. */
  shortestEdge: number;
  cropWidth: number;
  cropHeight: number;
  rescaleFactor: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** The image processor's config: shortest edge, crop, rescale and per-channel mean/std (CLIP's defaults where absent). */
export function parseClipPreprocessorConfig(json: unknown): ClipPreprocessing {
  const c = (json ?? {}) as Record<string, unknown>;
  const file = WAN_IMAGE_PROCESSOR_CONFIG;
  const side = (v: unknown, key: string): number => {
    if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
    throw new Error(`${file}: ${key} must be a positive whole number, got ${JSON.stringify(v) ?? "nothing"}`);
  };
  const size = (c.size ?? { shortest_edge: 224 }) as Record<string, unknown> | number;
  const shortestEdge = side(typeof size === "number" ? size : size.shortest_edge, "size.shortest_edge");
  const crop = (c.crop_size ?? { height: 224, width: 224 }) as Record<string, unknown> | number;
  const [cropHeight, cropWidth] = typeof crop === "number" ? [side(crop, "crop_size"), side(crop, "crop_size")] : [side(crop.height, "crop_size.height"), side(crop.width, "crop_size.width")];
  const triple = (key: string, fallback: number[], positive: boolean): [number, number, number] => {
    const v = c[key] ?? fallback;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === "number" && Number.isFinite(x) && (!positive || x > 0))) {
      throw new Error(`${file}: ${key} must be 3 finite${positive ? " positive" : ""} numbers (R, G, B)`);
    }
    return v as [number, number, number];
  };
  for (const [key, want] of [["do_resize", true], ["do_center_crop", true], ["do_normalize", true], ["do_rescale", true]] as const) {
    if (c[key] !== undefined && c[key] !== want) throw new Error(`${file}: ${key} ${JSON.stringify(c[key])} is not supported (the pipeline needs ${want})`);
  }
  const rescaleFactor = c.rescale_factor ?? 1 / 255;
  if (typeof rescaleFactor !== "number" || !(rescaleFactor > 0)) throw new Error(`${file}: rescale_factor must be a positive number`);
  return {
    shortestEdge, cropWidth, cropHeight, rescaleFactor,
    mean: triple("image_mean", [0.48145466, 0.4578275, 0.40821073], false),
    std: triple("image_std", [0.26862954, 0.26130258, 0.27577711], true),
  };
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
    if (manifest.capabilities.i2v) parseClipPreprocessorConfig(await readJson(WAN_IMAGE_PROCESSOR_CONFIG));
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

const TRANSFORMER_INPUTS = (channels: string) => [
  { name: "hidden_states", types: FLOAT_TYPES, rank: 5, shape: `[B, ${channels}, F_lat, H/8, W/8]` },
  { name: "timestep", types: [...FLOAT_TYPES, "int64"], rank: 1, shape: "[B]" },
  { name: "encoder_hidden_states", types: FLOAT_TYPES, rank: 3, shape: "[B, L, D_text]" },
];
const TRANSFORMER_OUTPUT = { name: "out_sample", types: FLOAT_TYPES, rank: 5, shape: "[B, 16, F_lat, H/8, W/8]" };

const WAN_GRAPHS: Record<string, GraphContract> = {
  "text_encoder/model.onnx": TEXT_ENCODER_CONTRACT,
  "transformer/model.onnx": { inputs: TRANSFORMER_INPUTS("16"), outputs: [TRANSFORMER_OUTPUT] },
  "vae_decoder/model.onnx": {
    inputs: [{ name: "latent_sample", types: FLOAT_TYPES, rank: 5, shape: "[B, 16, F_lat, H/8, W/8]" }],
    outputs: [{ name: "sample", types: FLOAT_TYPES, rank: 5, shape: "[B, 3, F, H, W] in [-1, 1]" }],
  },
};

/**
 * Wan 2.1 image-to-video (WanImageToVideoPipeline): CLIP's penultimate hidden states of the image, and the
 * VAE's encoding of [image, zeros...], which the transformer takes as 20 more input channels (4 mask + 16).
 */
const WAN_I2V_GRAPHS: Record<string, GraphContract> = {
  ...WAN_GRAPHS,
  "image_encoder/model.onnx": {
    inputs: [{ name: "pixel_values", types: FLOAT_TYPES, rank: 4, shape: "[B, 3, 224, 224] CLIP-normalised" }],
    outputs: [{ name: "image_embeds", types: FLOAT_TYPES, rank: 3, shape: "[B, 257, D_image] (hidden_states[-2])" }],
  },
  "vae_encoder/model.onnx": {
    inputs: [{ name: "sample", types: FLOAT_TYPES, rank: 5, shape: "[B, 3, F, H, W] in [-1, 1]" }],
    outputs: [{ name: "latent_sample", types: FLOAT_TYPES, rank: 5, shape: "[B, 16, F_lat, H/8, W/8] (the mode, not normalised)" }],
  },
  "transformer/model.onnx": {
    inputs: [...TRANSFORMER_INPUTS("36 = 16 noise + 4 mask + 16 condition"), { name: "encoder_hidden_states_image", types: FLOAT_TYPES, rank: 3, shape: "[B, 257, D_image]" }],
    outputs: [TRANSFORMER_OUTPUT],
  },
};

const wanI2vContract: FamilyContract = {
  name: "wan",
  files: [...DIFFUSERS_FILES, WAN_VAE_CONFIG, "image_encoder/model.onnx", "vae_encoder/model.onnx", WAN_IMAGE_PROCESSOR_CONFIG],
  graphs: WAN_I2V_GRAPHS,
  defaultNegativePrompt: WAN_NEGATIVE_PROMPT,
  checkFolder: checkWanFolder,
};

/**
 * Wan 2.1 text-to-video as diffusers' WanPipeline runs it, on the folder layout of the README's
 * model-folder section; with capabilities.i2v, image to video as WanImageToVideoPipeline (more graphs).
 */
export const wanContract: FamilyContract = {
  name: "wan",
  files: [...DIFFUSERS_FILES, WAN_VAE_CONFIG],
  graphs: WAN_GRAPHS,
  defaultNegativePrompt: WAN_NEGATIVE_PROMPT,
  checkFolder: checkWanFolder,
  variantFor: (manifest) => (manifest.capabilities.i2v ? wanI2vContract : wanContract),
};
