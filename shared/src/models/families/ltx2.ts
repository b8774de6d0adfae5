import type { Manifest } from "../manifest.js";
import { FLOAT_TYPES, type FamilyContract, type ReadJson, type TensorContract } from "./contract.js";

export const LTX2_VAE_CONFIG = "vae_decoder/config.json";
export const LTX2_AUDIO_VAE_CONFIG = "audio_vae_decoder/config.json";
export const LTX2_VOCODER_CONFIG = "vocoder/config.json";

/** AutoencoderKLLTX2Audio's LATENT_DOWNSAMPLE_FACTOR: 4 mel frames and 4 mel bins per latent cell. */
export const LTX2_AUDIO_COMPRESSION = 4;

/** The video VAE's config.json as the pipeline reads it; the exporter copies the latents_mean/std buffers into it. */
export interface Ltx2VaeConfig {
  mean: Float32Array;
  std: Float32Array;
  scalingFactor: number;
  /** A timestep-conditioned decoder gets `decode_timestep` and the decode noise. */
  timestepConditioning: boolean;
}

/** The audio VAE's config.json: the mel grid and, copied from its buffers, the packed latents' statistics. */
export interface Ltx2AudioVaeConfig {
  mean: Float32Array;
  std: Float32Array;
  latentChannels: number;
  melBins: number;
  sampleRate: number;
  melHopLength: number;
}

type Json = Record<string, unknown>;

const asObject = (json: unknown): Json => (typeof json === "object" && json !== null && !Array.isArray(json) ? (json as Json) : {});

function vector(file: string, config: Json, key: string, length: number, positive: boolean, what: string): Float32Array {
  const v = config[key];
  if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === "number" && Number.isFinite(x) && (!positive || x > 0))) {
    const got = Array.isArray(v) ? `${v.length} values` : (JSON.stringify(v) ?? "nothing");
    throw new Error(`${file}: ${key} must be ${length} finite${positive ? " positive" : ""} numbers (${what}), got ${got}`);
  }
  return Float32Array.from(v as number[]);
}

function positiveInt(file: string, config: Json, key: string, fallback?: number): number {
  const v = config[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new Error(`${file}: ${key} must be a positive integer, got ${JSON.stringify(v) ?? "nothing"}`);
  return v;
}

/** AutoencoderKLLTX2Video's config: latent_channels must match the manifest; mean/std one per channel. */
export function parseLtx2VaeConfig(json: unknown, channels: number): Ltx2VaeConfig {
  const c = asObject(json);
  const file = LTX2_VAE_CONFIG;
  if (c.latent_channels !== undefined && c.latent_channels !== channels) {
    throw new Error(`${file}: latent_channels is ${JSON.stringify(c.latent_channels)}, but videosdgx.json says latent.channels ${channels}`);
  }
  const scalingFactor = c.scaling_factor ?? 1.0;
  if (typeof scalingFactor !== "number" || !(scalingFactor > 0)) throw new Error(`${file}: scaling_factor must be a positive number`);
  if (c.timestep_conditioning !== undefined && typeof c.timestep_conditioning !== "boolean") {
    throw new Error(`${file}: timestep_conditioning must be true or false`);
  }
  return {
    mean: vector(file, c, "latents_mean", channels, false, "one per latent channel"),
    std: vector(file, c, "latents_std", channels, true, "one per latent channel"),
    scalingFactor,
    timestepConditioning: c.timestep_conditioning === true,
  };
}

/** AutoencoderKLLTX2Audio's config (diffusers' defaults where a field is absent): mean/std per packed feature. */
export function parseLtx2AudioVaeConfig(json: unknown): Ltx2AudioVaeConfig {
  const c = asObject(json);
  const file = LTX2_AUDIO_VAE_CONFIG;
  const latentChannels = positiveInt(file, c, "latent_channels", 8);
  const melBins = positiveInt(file, c, "mel_bins", 64);
  if (melBins % LTX2_AUDIO_COMPRESSION !== 0) throw new Error(`${file}: mel_bins must be a multiple of ${LTX2_AUDIO_COMPRESSION}, got ${melBins}`);
  const features = latentChannels * (melBins / LTX2_AUDIO_COMPRESSION);
  return {
    mean: vector(file, c, "latents_mean", features, false, "latent_channels x mel_bins/4, one per packed audio feature"),
    std: vector(file, c, "latents_std", features, true, "latent_channels x mel_bins/4, one per packed audio feature"),
    latentChannels,
    melBins,
    sampleRate: positiveInt(file, c, "sample_rate", 16000),
    melHopLength: positiveInt(file, c, "mel_hop_length", 160),
  };
}

/** LTX2Vocoder's config: the waveform's sample rate. */
export function parseLtx2VocoderConfig(json: unknown): { outputSampleRate: number } {
  return { outputSampleRate: positiveInt(LTX2_VOCODER_CONFIG, asObject(json), "output_sampling_rate", 24000) };
}

const float = (name: string, rank: number, shape: string): TensorContract => ({ name, types: FLOAT_TYPES, rank, shape });
const exact = (name: string, type: string, rank: number, shape: string): TensorContract => ({ name, types: [type], rank, shape });

async function checkLtx2Folder(manifest: Manifest, readJson: ReadJson): Promise<string | undefined> {
  const { frames, resolution } = manifest.constraints;
  const { spatial_factor: sf, temporal_factor: tf, patch } = manifest.latent;
  if (frames.step % tf !== 0 || frames.offset !== 1) return `videosdgx.json: family ltx2 needs frames ${tf}k+1 (constraints.frames step a multiple of latent.temporal_factor, offset 1)`;
  if (resolution.multiple % sf !== 0) return `videosdgx.json: family ltx2 needs sizes that are multiples of latent.spatial_factor ${sf}`;
  if (patch.some((p) => p !== 1)) return `videosdgx.json: family ltx2 packs latents with patch size 1 (latent.patch [1, 1, 1]), got [${patch.join(", ")}]`;
  if (!manifest.capabilities.audio) return "videosdgx.json: family ltx2 makes sound: capabilities.audio must be true";
  if (manifest.sampling?.flow_shift_by_size) return "videosdgx.json sets sampling.flow_shift_by_size, which family ltx2 does not use (its shift is dynamic)";
  try {
    parseLtx2VaeConfig(await readJson(LTX2_VAE_CONFIG), manifest.latent.channels);
    parseLtx2AudioVaeConfig(await readJson(LTX2_AUDIO_VAE_CONFIG));
    parseLtx2VocoderConfig(await readJson(LTX2_VOCODER_CONFIG));
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/**
 * LTX-2 text (and sound) to video as diffusers' LTX2Pipeline runs it, on the folder layout of the README's
 * model-folder section (notes: ltx2-contract.md). Shapes: S_v = F_lat x H/32 x W/32 video tokens of C = 128
 * channels (patch 1), S_a audio latent frames of C_a x M/4 features, L text tokens.
 */
export const ltx2Contract: FamilyContract = {
  name: "ltx2",
  files: [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "tokenizer/tokenizer.json",
    "text_encoder/model.onnx",
    "connectors/model.onnx",
    "transformer/model.onnx",
    "vae_decoder/model.onnx",
    "audio_vae_decoder/model.onnx",
    "vocoder/model.onnx",
    LTX2_VAE_CONFIG,
    LTX2_AUDIO_VAE_CONFIG,
    LTX2_VOCODER_CONFIG,
  ],
  graphs: {
    "text_encoder/model.onnx": {
      inputs: [exact("input_ids", "int64", 2, "[B, L] left-padded"), exact("attention_mask", "int64", 2, "[B, L]")],
      // Gemma 3's hidden states of every layer, stacked on a last axis and flattened (`_get_gemma_prompt_embeds`).
      outputs: [float("hidden_states", 3, "[B, L, D x (layers + 1)]")],
    },
    "connectors/model.onnx": {
      inputs: [float("text_encoder_hidden_states", 3, "[B, L, D x (layers + 1)]"), exact("attention_mask", "int64", 2, "[B, L]")],
      outputs: [
        float("video_text_embedding", 3, "[B, L, D_v]"),
        float("audio_text_embedding", 3, "[B, L, D_a]"),
        exact("connector_attention_mask", "int64", 2, "[B, L]"),
      ],
    },
    "transformer/model.onnx": {
      inputs: [
        float("hidden_states", 3, "[B, S_v, C]"),
        float("audio_hidden_states", 3, "[B, S_a, C_a x M/4]"),
        float("encoder_hidden_states", 3, "[B, L, D_v]"),
        float("audio_encoder_hidden_states", 3, "[B, L, D_a]"),
        exact("timestep", "float32", 1, "[B] sigma x 1000"),
        exact("sigma", "float32", 1, "[B] as timestep"),
        exact("encoder_attention_mask", "int64", 2, "[B, L]"),
        exact("audio_encoder_attention_mask", "int64", 2, "[B, L]"),
        exact("num_frames", "int64", 1, "[1] latent frames"),
        exact("height", "int64", 1, "[1] latent height"),
        exact("width", "int64", 1, "[1] latent width"),
        exact("fps", "float32", 1, "[1]"),
        exact("audio_num_frames", "int64", 1, "[1] audio latent frames"),
        exact("video_coords", "float32", 4, "[B, 3, S_v, 2]"),
        exact("audio_coords", "float32", 4, "[B, 1, S_a, 2]"),
        exact("isolate_modalities", "bool", 1, "[1]"),
        exact("perturbation_mask", "float32", 1, "[B] 0 = STG at the export's blocks"),
      ],
      outputs: [float("sample", 3, "[B, S_v, C] velocity"), float("audio_sample", 3, "[B, S_a, C_a x M/4] velocity")],
    },
    "vae_decoder/model.onnx": {
      inputs: [float("latent_sample", 5, "[B, C, F_lat, H/32, W/32]"), exact("timestep", "float32", 1, "[B] decode_timestep")],
      outputs: [float("sample", 5, "[B, 3, F, H, W] in [-1, 1]")],
    },
    "audio_vae_decoder/model.onnx": {
      inputs: [float("latent_sample", 4, "[B, C_a, S_a, M/4]")],
      outputs: [float("sample", 4, "[B, 2, 4 S_a - 3, M] mel")],
    },
    "vocoder/model.onnx": {
      inputs: [float("hidden_states", 4, "[B, 2, T_mel, M]")],
      outputs: [float("waveform", 3, "[B, channels, samples] in [-1, 1]")],
    },
  },
  defaultNegativePrompt: "",
  checkFolder: checkLtx2Folder,
};
