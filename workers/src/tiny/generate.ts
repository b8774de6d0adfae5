import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { inspectModel, KNOWN_MODELS, MANIFEST_FILE, type Manifest } from "@videosdgx/shared";
import { textEncoderGraph, transformerGraph, vaeDecoderGraph, type BallastWeights } from "./graphs.js";
import { TINY_GENERATOR_VERSION } from "./spec.js";
import { tinyTokenizerConfig, tinyTokenizerJson } from "./tokenizer-json.js";

const VERSION_FILE = ".generator-version";
/** sha256 of every file the generator wrote, in `sha256sum` format (`sha256sum -c checksums.sha256` checks it too). */
const CHECKSUMS_FILE = "checksums.sha256";

const sha256 = (body: string | Uint8Array) => createHash("sha256").update(body).digest("hex");

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
  };
}

/** The Wan-style scheduler: static shift 3, as diffusers' FlowMatchEulerDiscreteScheduler reads it. */
const SCHEDULER_CONFIG = {
  _class_name: "FlowMatchEulerDiscreteScheduler",
  num_train_timesteps: 1000,
  shift: 3.0,
  use_dynamic_shifting: false,
};

/**
 * Writes the tiny model in the diffusers/Optimum ONNX layout. It is built in a sibling folder and renamed
 * into place, so an interrupted run never leaves a half model where a worker would load it.
 */
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
    [VERSION_FILE]: TINY_GENERATOR_VERSION,
  };
  files[CHECKSUMS_FILE] = Object.entries(files).map(([rel, body]) => `${sha256(body)}  ${rel}\n`).join("");
  const staging = `${outDir}.staging-${process.pid}`;
  const old = `${outDir}.old-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  for (const [rel, body] of Object.entries(files)) {
    const file = path.join(staging, rel);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, body);
  }
  await rename(outDir, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
  await rename(staging, outDir);
  await rm(old, { recursive: true, force: true });
}

/** Whether every file the generator listed still has its bytes: the tiny model is small, so this is cheap. */
async function checksumsMatch(outDir: string): Promise<boolean> {
  const listing = await readFile(path.join(outDir, CHECKSUMS_FILE), "utf8").catch(() => "");
  const lines = listing.split("\n").filter(Boolean);
  if (lines.length === 0) return false;
  for (const line of lines) {
    const [hash, rel] = line.split("  ");
    const body = rel ? await readFile(path.join(outDir, rel)).catch(() => undefined) : undefined;
    if (!body || sha256(body) !== hash) return false;
  }
  return true;
}

/**
 * True when the folder holds a sound tiny model written by this version of the generator: its graphs'
 * structure checks out as for any model, and every byte is as written (a flipped weight leaves the
 * structure sound and only a checksum sees it).
 */
export async function isTinyModelCurrent(outDir: string): Promise<boolean> {
  const version = await readFile(path.join(outDir, VERSION_FILE), "utf8").catch(() => "");
  if (version !== TINY_GENERATOR_VERSION) return false;
  const state = await inspectModel(path.dirname(outDir), path.basename(outDir));
  return state.installed && (await checksumsMatch(outDir));
}
