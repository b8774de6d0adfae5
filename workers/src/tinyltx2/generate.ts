import { LTX2_AUDIO_VAE_CONFIG, LTX2_VAE_CONFIG, LTX2_VOCODER_CONFIG, MANIFEST_FILE, ManifestSchema, type Manifest } from "@videosdgx/shared";
import { decoderPreview } from "../builtin/decoder-preview.js";
import { isGeneratedFolderCurrent, writeGeneratedFolder } from "../builtin/write-folder.js";
import { tinyTokenizerConfig, tinyTokenizerJson } from "../tiny/tokenizer-json.js";
import { audioVaeDecoderGraph, connectorsGraph, textEncoderGraph, transformerGraph, vaeDecoderGraph, vocoderGraph } from "./graphs.js";
import {
  AUDIO_CHANNELS, AUDIO_LATENTS_MEAN, AUDIO_LATENTS_STD, AUDIO_SAMPLE_RATE, CHANNELS, LATENTS_MEAN, LATENTS_STD, MAX_TOKENS,
  MEL_BINS, MEL_HOP, OUTPUT_SAMPLE_RATE, SPATIAL_FACTOR, TEMPORAL_FACTOR, TEXT_DIM, TEXT_LAYERS, TINYLTX2_GENERATOR_VERSION,
  TINYLTX2_NAME, mixBias, mixWeight,
} from "./spec.js";

export interface TinyLtx2Options {
  /** Folder and manifest name, for copies under other names (tests). */
  name?: string;
}

/** Small enough for seconds per video on 2 CPU cores; the rules are LTX-2's (8k+1 frames, multiples of 32). */
export function tinyLtx2Manifest(name = TINYLTX2_NAME): Manifest {
  return ManifestSchema.parse({
    schema_version: 1,
    name,
    family: "ltx2",
    display_name: "Tiny LTX-2 replica with sound (built in, analytic)",
    license: "MIT",
    weights_public: true,
    constraints: {
      frames: { step: 8, offset: 1, min: 9, max: 121, default: 25 },
      resolution: {
        multiple: 32, min_width: 64, max_width: 512, min_height: 64, max_height: 512,
        default_width: 256, default_height: 160,
      },
      fps: { min: 1, max: 60, default: 24 },
      steps: { min: 1, max: 100, default: 8 },
      guidance: { min: 0, max: 20, default: 3 },
    },
    latent: { channels: CHANNELS, spatial_factor: SPATIAL_FACTOR, temporal_factor: TEMPORAL_FACTOR, patch: [1, 1, 1] },
    text: { max_tokens: MAX_TOKENS },
    // diffusers' LTX2Pipeline defaults, written out as an export would.
    sampling: {
      x0_guidance: {
        stg_scale: 1.0, modality_scale: 3.0, guidance_rescale: 0.7,
        audio_guidance_scale: 7.0, audio_stg_scale: 1.0, audio_modality_scale: 3.0, audio_guidance_rescale: 0.7,
      },
      decode_timestep: 0.0,
    },
    memory: { resident_bytes: 64 * 1024 * 1024, load_peak_factor: 2 },
    capabilities: { audio: true, chunked: false },
    // The video decoder's mix before its tanh, on the latent before denormalisation (z = x std / 1.0 + mean).
    preview: decoderPreview(CHANNELS, mixWeight, (k) => LATENTS_STD[k]!, (k) => LATENTS_MEAN[k]!, mixBias),
  });
}

/** LTX-2's scheduler_config.json (FlowMatchEulerDiscreteScheduler with its dynamic shift and terminal 0.1). */
export const TINYLTX2_SCHEDULER_CONFIG = {
  _class_name: "FlowMatchEulerDiscreteScheduler",
  _diffusers_version: "0.37.0",
  base_image_seq_len: 1024,
  base_shift: 0.95,
  invert_sigmas: false,
  max_image_seq_len: 4096,
  max_shift: 2.05,
  num_train_timesteps: 1000,
  shift: 1.0,
  shift_terminal: 0.1,
  stochastic_sampling: false,
  time_shift_type: "exponential",
  use_beta_sigmas: false,
  use_dynamic_shifting: true,
  use_exponential_sigmas: false,
  use_karras_sigmas: false,
};

/** The video VAE's config.json, with the latents_mean/std buffers copied in as the ltx2 contract asks. */
export const tinyLtx2VaeConfig = (mean = LATENTS_MEAN, std = LATENTS_STD) => ({
  _class_name: "AutoencoderKLLTX2Video",
  latent_channels: CHANNELS,
  scaling_factor: 1.0,
  timestep_conditioning: false,
  latents_mean: mean,
  latents_std: std,
});

export const tinyLtx2AudioVaeConfig = (mean = AUDIO_LATENTS_MEAN, std = AUDIO_LATENTS_STD) => ({
  _class_name: "AutoencoderKLLTX2Audio",
  latent_channels: AUDIO_CHANNELS,
  output_channels: 2,
  mel_bins: MEL_BINS,
  sample_rate: AUDIO_SAMPLE_RATE,
  mel_hop_length: MEL_HOP,
  latents_mean: mean,
  latents_std: std,
});

const json = (v: unknown) => JSON.stringify(v, null, 2);

/** Writes tinyltx2 in the ltx2 folder layout, atomically. */
export async function generateTinyLtx2Model(outDir: string, options: TinyLtx2Options = {}): Promise<void> {
  const tokenizer = tinyTokenizerJson() as { model: { vocab: unknown[] } };
  const onnx = ["onnxruntime", "ORTModel"];
  const files: Record<string, string | Uint8Array> = {
    "model_index.json": json({
      _class_name: "LTX2Pipeline",
      _diffusers_version: "0.37.0",
      scheduler: ["diffusers", "FlowMatchEulerDiscreteScheduler"],
      tokenizer: ["transformers", "GemmaTokenizerFast"],
      text_encoder: onnx, connectors: onnx, transformer: onnx, vae_decoder: onnx, audio_vae_decoder: onnx, vocoder: onnx,
    }),
    "scheduler/scheduler_config.json": json(TINYLTX2_SCHEDULER_CONFIG),
    "tokenizer/tokenizer.json": JSON.stringify(tokenizer),
    "tokenizer/tokenizer_config.json": json({ ...tinyTokenizerConfig(), model_max_length: MAX_TOKENS, padding_side: "left" }),
    "text_encoder/model.onnx": textEncoderGraph(tokenizer.model.vocab.length),
    "text_encoder/config.json": json({ _class_name: "Gemma3ForConditionalGeneration", hidden_size: TEXT_DIM, num_hidden_layers: TEXT_LAYERS - 1 }),
    "connectors/model.onnx": connectorsGraph(),
    "connectors/config.json": json({ _class_name: "LTX2TextConnectors", caption_channels: TEXT_DIM }),
    "transformer/model.onnx": transformerGraph(),
    "transformer/config.json": json({ _class_name: "LTX2VideoTransformer3DModel", in_channels: CHANNELS, patch_size: 1, patch_size_t: 1 }),
    "vae_decoder/model.onnx": vaeDecoderGraph(),
    [LTX2_VAE_CONFIG]: json(tinyLtx2VaeConfig()),
    "audio_vae_decoder/model.onnx": audioVaeDecoderGraph(),
    [LTX2_AUDIO_VAE_CONFIG]: json(tinyLtx2AudioVaeConfig()),
    "vocoder/model.onnx": vocoderGraph(),
    [LTX2_VOCODER_CONFIG]: json({ _class_name: "LTX2Vocoder", output_sampling_rate: OUTPUT_SAMPLE_RATE }),
    [MANIFEST_FILE]: json(tinyLtx2Manifest(options.name)),
  };
  await writeGeneratedFolder(outDir, files, TINYLTX2_GENERATOR_VERSION);
}

export const isTinyLtx2ModelCurrent = (outDir: string): Promise<boolean> => isGeneratedFolderCurrent(outDir, TINYLTX2_GENERATOR_VERSION);
