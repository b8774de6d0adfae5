import { MANIFEST_FILE, ManifestSchema, WAN_NEGATIVE_PROMPT, WAN_VAE_CONFIG, type Manifest } from "@videosdgx/shared";
import { decoderPreview } from "../builtin/decoder-preview.js";
import { isGeneratedFolderCurrent, writeGeneratedFolder } from "../builtin/write-folder.js";
import { tinyTokenizerConfig, tinyTokenizerJson } from "../tiny/tokenizer-json.js";
import { textEncoderGraph, transformerGraph, vaeDecoderGraph } from "./graphs.js";
import {
  CHANNELS, LATENTS_MEAN, LATENTS_STD, MAX_TOKENS, SPATIAL_FACTOR, TEMPORAL_FACTOR, TEXT_DIM,
  TINYWAN_GENERATOR_VERSION, TINYWAN_NAME, mixBias, mixWeight,
} from "./spec.js";

export interface TinyWanOptions {
  /** Folder and manifest name, for copies under other names (tests). */
  name?: string;
}

/** Small enough for seconds per video on 2 CPU cores; the rules are Wan's (4k+1 frames, multiples of 16). */
export function tinyWanManifest(name = TINYWAN_NAME): Manifest {
  return ManifestSchema.parse({
    schema_version: 1,
    name,
    family: "wan",
    display_name: "Tiny Wan 2.1 replica (built in, analytic)",
    license: "MIT",
    weights_public: true,
    constraints: {
      frames: { step: 4, offset: 1, min: 5, max: 81, default: 17 },
      resolution: {
        multiple: 16, min_width: 32, max_width: 512, min_height: 32, max_height: 512,
        default_width: 160, default_height: 96,
      },
      fps: { min: 1, max: 60, default: 16 },
      steps: { min: 1, max: 200, default: 10 },
      guidance: { min: 0, max: 20, default: 5 },
    },
    latent: { channels: CHANNELS, spatial_factor: SPATIAL_FACTOR, temporal_factor: TEMPORAL_FACTOR, patch: [1, 2, 2] },
    text: { max_tokens: MAX_TOKENS, default_negative_prompt: WAN_NEGATIVE_PROMPT },
    // As Wan's 480p and 720p: the folder's flow_shift 3.0 for most sizes, 5.0 for the largest.
    sampling: { flow_shift_by_size: { "512x512": 5.0 } },
    memory: { resident_bytes: 64 * 1024 * 1024, load_peak_factor: 2 },
    capabilities: { audio: false, chunked: false },
    // The decoder's mix before its tanh, on the latent before denormalisation (z = x std + mean).
    preview: decoderPreview(CHANNELS, mixWeight, (k) => LATENTS_STD[k]!, (k) => LATENTS_MEAN[k]!, mixBias),
  });
}

/** Wan 2.1's diffusers scheduler_config.json, as the Hub's Wan2.1-T2V-1.3B checkpoint ships it. */
export const TINYWAN_SCHEDULER_CONFIG = {
  _class_name: "UniPCMultistepScheduler",
  _diffusers_version: "0.33.0.dev0",
  beta_end: 0.02,
  beta_schedule: "linear",
  beta_start: 0.0001,
  disable_corrector: [],
  dynamic_thresholding_ratio: 0.995,
  final_sigmas_type: "zero",
  flow_shift: 3.0,
  lower_order_final: true,
  num_train_timesteps: 1000,
  predict_x0: true,
  prediction_type: "flow_prediction",
  rescale_betas_zero_snr: false,
  sample_max_value: 1.0,
  solver_order: 2,
  solver_p: null,
  solver_type: "bh2",
  steps_offset: 0,
  thresholding: false,
  timestep_spacing: "linspace",
  trained_betas: null,
  use_beta_sigmas: false,
  use_exponential_sigmas: false,
  use_flow_sigmas: true,
  use_karras_sigmas: false,
};

/** The VAE's config.json as AutoencoderKLWan writes it (the fields the platform reads, and a few more). */
export const tinyWanVaeConfig = (mean = LATENTS_MEAN, std = LATENTS_STD) => ({
  _class_name: "AutoencoderKLWan",
  _diffusers_version: "0.33.0",
  base_dim: 96,
  z_dim: CHANNELS,
  scale_factor_spatial: SPATIAL_FACTOR,
  scale_factor_temporal: TEMPORAL_FACTOR,
  latents_mean: mean,
  latents_std: std,
});

export const json = (v: unknown) => JSON.stringify(v, null, 2);

/** tinywan's model_index.json: WanPipeline's components, the graphs as Optimum's ORTModel. */
export const TINYWAN_MODEL_INDEX = {
  _class_name: "WanPipeline",
  _diffusers_version: "0.33.0",
  scheduler: ["diffusers", "UniPCMultistepScheduler"],
  text_encoder: ["onnxruntime", "ORTModel"],
  tokenizer: ["transformers", "T5TokenizerFast"],
  transformer: ["onnxruntime", "ORTModel"],
  vae_decoder: ["onnxruntime", "ORTModel"],
};

/** tinywan's files in the Wan folder layout (the README's model-folder section), with the given manifest. */
export function tinyWanFiles(manifest: Manifest): Record<string, string | Uint8Array> {
  const tokenizer = tinyTokenizerJson({ closingEos: true }) as { model: { vocab: unknown[] } };
  return {
    "model_index.json": json(TINYWAN_MODEL_INDEX),
    "scheduler/scheduler_config.json": json(TINYWAN_SCHEDULER_CONFIG),
    "tokenizer/tokenizer.json": JSON.stringify(tokenizer),
    "tokenizer/tokenizer_config.json": json({ ...tinyTokenizerConfig(), model_max_length: MAX_TOKENS }),
    "text_encoder/model.onnx": textEncoderGraph(tokenizer.model.vocab.length),
    "text_encoder/config.json": json({ _class_name: "UMT5EncoderModel", d_model: TEXT_DIM, vocab_size: tokenizer.model.vocab.length }),
    "transformer/model.onnx": transformerGraph(),
    "transformer/config.json": json({
      _class_name: "WanTransformer3DModel", in_channels: CHANNELS, out_channels: CHANNELS, patch_size: [1, 2, 2], text_dim: TEXT_DIM,
    }),
    "vae_decoder/model.onnx": vaeDecoderGraph(),
    [WAN_VAE_CONFIG]: json(tinyWanVaeConfig()),
    [MANIFEST_FILE]: json(manifest),
  };
}

/** Writes tinywan, atomically. */
export async function generateTinyWanModel(outDir: string, options: TinyWanOptions = {}): Promise<void> {
  await writeGeneratedFolder(outDir, tinyWanFiles(tinyWanManifest(options.name)), TINYWAN_GENERATOR_VERSION);
}

export const isTinyWanModelCurrent = (outDir: string): Promise<boolean> => isGeneratedFolderCurrent(outDir, TINYWAN_GENERATOR_VERSION);
