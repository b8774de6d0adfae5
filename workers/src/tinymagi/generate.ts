import { MAGI_CONFIG, MANIFEST_FILE, ManifestSchema, type Manifest } from "@videosdgx/shared";
import { decoderPreview } from "../builtin/decoder-preview.js";
import { isGeneratedFolderCurrent, writeGeneratedFolder } from "../builtin/write-folder.js";
import { tinyTokenizerConfig, tinyTokenizerJson } from "../tiny/tokenizer-json.js";
import { textEncoderGraph } from "../tinywan/graphs.js";
import { transformerGraph, vaeDecoderGraph } from "./graphs.js";
import {
  CHANNELS, CHUNK_WIDTH, MAX_TOKENS, SPATIAL_FACTOR, TEMPORAL_FACTOR, TEXT_DIM, TINYMAGI_GENERATOR_VERSION, TINYMAGI_NAME,
  TINYMAGI_RUNTIME_CONFIG, SCALE_FACTOR, mixWeight,
} from "./spec.js";

const CHUNK_FRAMES = CHUNK_WIDTH * TEMPORAL_FACTOR;

/** MAGI's rules (24-frame chunks, multiples of 16, 24 fps, 7.5 text guidance) at sizes 2 CPU cores make in seconds. */
export function tinyMagiManifest(name = TINYMAGI_NAME): Manifest {
  return ManifestSchema.parse({
    schema_version: 1,
    name,
    family: "magi",
    display_name: "Tiny MAGI-1 replica (built in, analytic, streamed chunk by chunk)",
    license: "MIT",
    weights_public: true,
    constraints: {
      frames: { step: CHUNK_FRAMES, offset: 0, min: CHUNK_FRAMES, max: 100 * CHUNK_FRAMES, default: 4 * CHUNK_FRAMES },
      resolution: {
        multiple: 16, min_width: 32, max_width: 512, min_height: 32, max_height: 512,
        default_width: 64, default_height: 64,
      },
      fps: { min: 1, max: 60, default: 24 },
      steps: { min: 4, max: 200, default: 8 },
      guidance: { min: 0, max: 20, default: 7.5 },
    },
    latent: { channels: CHANNELS, spatial_factor: SPATIAL_FACTOR, temporal_factor: TEMPORAL_FACTOR, patch: [1, 2, 2] },
    text: { max_tokens: MAX_TOKENS },
    // Each chunk's steps are split evenly over the window's 4 stages.
    sampling: { steps_multiple: TINYMAGI_RUNTIME_CONFIG.window_size },
    memory: { resident_bytes: 64 * 1024 * 1024, load_peak_factor: 2 },
    capabilities: { audio: false, chunked: true },
    // The decoder's mix before its tanh, on the latent before MAGI's division by scale_factor.
    preview: decoderPreview(CHANNELS, mixWeight, () => 1 / SCALE_FACTOR),
  });
}

/** Sand AI's config file layout (model_config, runtime_config), with the replica's sizes. */
export const tinyMagiConfig = (runtime: Record<string, unknown> = TINYMAGI_RUNTIME_CONFIG) => ({
  model_config: {
    model_name: "videodit_ardf", num_layers: 1, hidden_size: TEXT_DIM, patch_size: 2, t_patch_size: 1,
    in_channels: CHANNELS, out_channels: CHANNELS, caption_channels: TEXT_DIM, caption_max_length: MAX_TOKENS,
  },
  runtime_config: runtime,
});

const json = (v: unknown) => JSON.stringify(v, null, 2);

/** Writes tinymagi in the MAGI folder layout (magi-contract.md), atomically. */
export async function generateTinyMagiModel(outDir: string, options: { name?: string } = {}): Promise<void> {
  const tokenizer = tinyTokenizerJson({ closingEos: true }) as { model: { vocab: unknown[] } };
  const files: Record<string, string | Uint8Array> = {
    "tokenizer/tokenizer.json": JSON.stringify(tokenizer),
    "tokenizer/tokenizer_config.json": json({ ...tinyTokenizerConfig(), model_max_length: MAX_TOKENS }),
    "text_encoder/model.onnx": textEncoderGraph(tokenizer.model.vocab.length),
    "text_encoder/config.json": json({ _class_name: "T5EncoderModel", d_model: TEXT_DIM, vocab_size: tokenizer.model.vocab.length }),
    "transformer/model.onnx": transformerGraph(),
    [MAGI_CONFIG]: json(tinyMagiConfig()),
    "vae_decoder/model.onnx": vaeDecoderGraph(),
    [MANIFEST_FILE]: json(tinyMagiManifest(options.name)),
  };
  await writeGeneratedFolder(outDir, files, TINYMAGI_GENERATOR_VERSION);
}

export const isTinyMagiModelCurrent = (outDir: string): Promise<boolean> => isGeneratedFolderCurrent(outDir, TINYMAGI_GENERATOR_VERSION);
