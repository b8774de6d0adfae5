import { KNOWN_MODELS, MANIFEST_FILE, type Manifest } from "@videosdgx/shared";
import { decoderPreview } from "../builtin/decoder-preview.js";
import { isGeneratedFolderCurrent, writeGeneratedFolder } from "../builtin/write-folder.js";
import { textEncoderGraph, transformerGraph, vaeDecoderGraph, type BallastWeights } from "./graphs.js";
import { BRIGHTNESS_MIX, CHANNELS, TINY_GENERATOR_VERSION } from "./spec.js";
import { tinyTokenizerConfig, tinyTokenizerJson } from "./tokenizer-json.js";

export interface TinyModelOptions {
  /** Folder name and manifest name, for copies of the tiny model under other names (tests). */
  name?: string;
  residentBytes?: number;
  loadPeakFactor?: number;
  /** Weights the loaded model really holds (memory tests); the output is unchanged. */
  ballast?: BallastWeights[];
  /** A working tensor this size per latent frame in every transformer run (out-of-memory tests). */
  scratchBytesPerFrame?: number;
}

function manifest(o: TinyModelOptions): Manifest {
  const base = KNOWN_MODELS.get("tiny")!;
  return {
    ...base,
    name: o.name ?? base.name,
    memory: {
      resident_bytes: o.residentBytes ?? base.memory.resident_bytes,
      load_peak_factor: o.loadPeakFactor ?? base.memory.load_peak_factor,
    },
    // The decoder's rgb = x[0:3] + 0.1 x[3] exactly: the preview of the final x0 is the decoded frame.
    preview: decoderPreview(CHANNELS, (j, k) => (k === j ? 1 : k === 3 ? BRIGHTNESS_MIX : 0), () => 1),
  };
}

/** The Wan-style scheduler: static shift 3, as diffusers' FlowMatchEulerDiscreteScheduler reads it. */
const SCHEDULER_CONFIG = {
  _class_name: "FlowMatchEulerDiscreteScheduler",
  num_train_timesteps: 1000,
  shift: 3.0,
  use_dynamic_shifting: false,
};

/** Writes the tiny model in the diffusers/Optimum ONNX layout (atomically: see writeGeneratedFolder). */
export async function generateTinyModel(outDir: string, options: TinyModelOptions = {}): Promise<void> {
  const tokenizer = tinyTokenizerJson() as { model: { vocab: unknown[] } };
  const files: Record<string, string | Uint8Array> = {
    "model_index.json": JSON.stringify({
      _class_name: "VideosDGXTinyPipeline",
      _diffusers_version: "0.35.0",
      scheduler: ["diffusers", "FlowMatchEulerDiscreteScheduler"],
      text_encoder: ["onnxruntime", "ORTModel"],
      tokenizer: ["transformers", "T5TokenizerFast"],
      transformer: ["onnxruntime", "ORTModel"],
      vae_decoder: ["onnxruntime", "ORTModel"],
    }, null, 2),
    "scheduler/scheduler_config.json": JSON.stringify(SCHEDULER_CONFIG, null, 2),
    "tokenizer/tokenizer.json": JSON.stringify(tokenizer),
    "tokenizer/tokenizer_config.json": JSON.stringify(tinyTokenizerConfig(), null, 2),
    "text_encoder/model.onnx": textEncoderGraph(tokenizer.model.vocab.length, options.ballast),
    "transformer/model.onnx": transformerGraph(options.scratchBytesPerFrame),
    "vae_decoder/model.onnx": vaeDecoderGraph(),
    [MANIFEST_FILE]: JSON.stringify(manifest(options), null, 2),
  };
  await writeGeneratedFolder(outDir, files, TINY_GENERATOR_VERSION);
}

/** True when the folder holds a sound, unaltered tiny model of this generator version (see isGeneratedFolderCurrent). */
export async function isTinyModelCurrent(outDir: string): Promise<boolean> {
  return isGeneratedFolderCurrent(outDir, TINY_GENERATOR_VERSION);
}
