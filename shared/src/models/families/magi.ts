import type { Manifest } from "../manifest.js";
import { FLOAT_TYPES, TEXT_ENCODER_CONTRACT, type FamilyContract, type ReadJson } from "./contract.js";

/** Sand AI's model config (`example/4.5B/4.5B_base_config.json`), copied into the folder as it is. */
export const MAGI_CONFIG = "transformer/magi_config.json";

/**
 * The `runtime_config` fields of Sand AI's config that the pipeline runs by (their names and meaning
 * as in MAGI-1's inference/pipeline/video_generate.py). MAGI's own time runs from 0 (noise) to 1 (clean).
 */
export interface MagiRuntimeConfig {
  /** Latent frames per chunk (6 = 24 video frames with the VAE's 4x in time). */
  chunk_width: number;
  /** Chunks denoised together at staggered noise levels. */
  window_size: number;
  temporal_downsample_factor: number;
  /** The latent is divided by it before the VAE decoder. */
  scale_factor: number;
  /** The time a clean chunk is shown to the transformer as context. */
  clean_t: number;
  /** How many chunks back (itself included) a chunk attends to, by the quarter of its steps it is in. */
  noise2clean_kvrange: number[];
  clean_chunk_kvrange: number;
  /** Three-way guidance by the chunk's time: t in [cfg_t_range[i], cfg_t_range[i+1]) uses scales i. */
  cfg_number: number;
  cfg_t_range: number[];
  prev_chunk_scales: number[];
  text_scales: number[];
  /** The t^2-then-shift schedule's shift (MAGI's "sd3" schedule, 3.0 in every released config). */
  shift: number;
}

const CONFIG_DEFAULTS = { shift: 3.0 };

/** Parses the runtime_config of `transformer/magi_config.json`; a problem is an Error naming the field. */
export function parseMagiConfig(json: unknown, manifest: Manifest): MagiRuntimeConfig {
  const root = (json ?? {}) as Record<string, unknown>;
  const rc = (root.runtime_config ?? {}) as Record<string, unknown>;
  const fail = (field: string, want: string): never => {
    throw new Error(`${MAGI_CONFIG}: runtime_config.${field} must be ${want}, got ${JSON.stringify(rc[field]) ?? "nothing"}`);
  };
  const int = (field: string): number => {
    const v = rc[field];
    return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : fail(field, "a positive integer");
  };
  const num = (field: string, fallback?: number): number => {
    const v = rc[field] ?? fallback;
    return typeof v === "number" && Number.isFinite(v) && v > 0 ? v : fail(field, "a positive number");
  };
  const list = (field: string, ints: boolean): number[] => {
    const v = rc[field];
    const ok = Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number" && Number.isFinite(x) && (!ints || (Number.isInteger(x) && x > 0)));
    return ok ? (v as number[]) : fail(field, ints ? "a list of positive integers" : "a list of numbers");
  };
  const config: MagiRuntimeConfig = {
    chunk_width: int("chunk_width"),
    window_size: int("window_size"),
    temporal_downsample_factor: int("temporal_downsample_factor"),
    scale_factor: num("scale_factor"),
    clean_t: num("clean_t"),
    noise2clean_kvrange: list("noise2clean_kvrange", true),
    clean_chunk_kvrange: int("clean_chunk_kvrange"),
    cfg_number: int("cfg_number"),
    cfg_t_range: list("cfg_t_range", false),
    prev_chunk_scales: list("prev_chunk_scales", false),
    text_scales: list("text_scales", false),
    shift: num("shift", CONFIG_DEFAULTS.shift),
  };
  // The distilled checkpoints (cfg_number 1) guide with a different, fused scheme: not this pipeline.
  if (config.cfg_number !== 3) fail("cfg_number", "3 (the three-way guidance of the base models; distilled cfg_number 1 is not supported)");
  const n = config.cfg_t_range.length;
  if (config.prev_chunk_scales.length !== n || config.text_scales.length !== n) {
    fail("prev_chunk_scales", `as long as cfg_t_range (${n}), as text_scales`);
  }
  if (config.cfg_t_range[0] !== 0 || config.cfg_t_range.some((t, i) => i > 0 && t <= config.cfg_t_range[i - 1]!)) {
    fail("cfg_t_range", "increasing from 0");
  }
  // A clean chunk that attends to older clean chunks would need their cache too: not in this contract.
  if (config.clean_chunk_kvrange !== 1) fail("clean_chunk_kvrange", "1 (a clean chunk attends to itself only)");
  if (config.noise2clean_kvrange.length !== config.window_size) {
    fail("noise2clean_kvrange", `one range per chunk of the window (${config.window_size})`);
  }
  if (config.shift < 1) fail("shift", "at least 1");
  if (manifest.sampling?.steps_multiple !== config.window_size) {
    throw new Error(`videosdgx.json: family magi needs sampling.steps_multiple ${config.window_size} (the window_size of ${MAGI_CONFIG}), got ${manifest.sampling?.steps_multiple ?? "none"}`);
  }
  const chunkFrames = config.chunk_width * config.temporal_downsample_factor;
  const { frames } = manifest.constraints;
  if (frames.step !== chunkFrames || frames.offset !== 0) {
    throw new Error(`videosdgx.json: family magi needs frames in whole chunks: constraints.frames step ${chunkFrames} (chunk_width x temporal_downsample_factor of ${MAGI_CONFIG}), offset 0`);
  }
  if (manifest.latent.temporal_factor !== config.temporal_downsample_factor) {
    throw new Error(`videosdgx.json: latent.temporal_factor ${manifest.latent.temporal_factor} differs from ${MAGI_CONFIG}'s temporal_downsample_factor ${config.temporal_downsample_factor}`);
  }
  return config;
}

/** Context chunks each forward needs before the window: as far back as any chunk's kv range reaches. */
export function magiContextChunks(config: Pick<MagiRuntimeConfig, "noise2clean_kvrange" | "window_size">): number {
  return Math.max(0, ...config.noise2clean_kvrange.map((range, level) => level + range - config.window_size));
}

async function checkMagiFolder(manifest: Manifest, readJson: ReadJson): Promise<string | undefined> {
  if (manifest.constraints.resolution.multiple % 16 !== 0) return `videosdgx.json: family magi needs sizes that are multiples of 16 (constraints.resolution.multiple)`;
  if (!manifest.capabilities.chunked) return `videosdgx.json: family magi generates chunk by chunk: capabilities.chunked must be true`;
  try {
    parseMagiConfig(await readJson(MAGI_CONFIG), manifest);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

const LATENT = "[B, 16, n x chunk_width, H/8, W/8]";

/**
 * MAGI-1 (Sand AI) text-to-video, chunk by chunk, on a folder of the shape magi-contract.md gives: the
 * transformer is MAGI's forward with its block-causal attention ranges as inputs, and the clean chunk a
 * window needs passed in beside it (instead of a KV cache).
 */
export const magiContract: FamilyContract = {
  name: "magi",
  files: ["tokenizer/tokenizer.json", "text_encoder/model.onnx", "transformer/model.onnx", "vae_decoder/model.onnx", MAGI_CONFIG],
  graphs: {
    "text_encoder/model.onnx": TEXT_ENCODER_CONTRACT,
    "transformer/model.onnx": {
      inputs: [
        { name: "hidden_states", types: FLOAT_TYPES, rank: 5, shape: LATENT },
        { name: "timestep", types: FLOAT_TYPES, rank: 2, shape: "[B, n] (0 noise .. 1 clean)" },
        { name: "encoder_hidden_states", types: FLOAT_TYPES, rank: 3, shape: "[B, L, 4096]" },
        { name: "encoder_attention_mask", types: ["int64"], rank: 2, shape: "[B, L]" },
        { name: "caption_dropout", types: ["bool"], rank: 2, shape: "[B, n]" },
        { name: "kv_range", types: ["int64"], rank: 3, shape: "[B, n, 2] chunk ranges [start, end)" },
        { name: "slice_point", types: ["int64"], rank: 1, shape: "[1]" },
      ],
      outputs: [{ name: "velocity", types: FLOAT_TYPES, rank: 5, shape: LATENT }],
    },
    "vae_decoder/model.onnx": {
      inputs: [{ name: "latent_sample", types: FLOAT_TYPES, rank: 5, shape: "[1, 16, chunk_width, H/8, W/8]" }],
      outputs: [{ name: "sample", types: FLOAT_TYPES, rank: 5, shape: "[1, 3, chunk frames, H, W] in [-1, 1]" }],
    },
  },
  defaultNegativePrompt: "",
  checkFolder: checkMagiFolder,
};
