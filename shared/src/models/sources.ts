/**
 * Where each known model's files come from (../shared/reference/models.md). None of the real models has a
 * published ONNX export, so what `models pull` fetches for them is the authors' checkpoint, the input of
 * `models export`; it lands in MODELS_DIR/.checkpoints/<name>, never in the folder a worker serves.
 */

/** One Hub repository and the files of it that a model needs. */
export interface HubPart {
  repo: string;
  /** Branch, tag or commit fetched by default; `--revision` overrides it for the model's first part. */
  revision: string;
  /** Glob patterns (`*` within a path segment, `**` across segments); each must match at least one file. */
  include: string[];
  /** Sub-folder of the checkpoint the files go into (default: the checkpoint's root). */
  into?: string;
  /** Set when the repository is gated: the licence to accept on its page before HF_TOKEN can read it. */
  gated?: string;
}

export type ModelSource =
  | { kind: "hub"; family: string; layout: string; parts: HubPart[] }
  | { kind: "generated"; family: string; how: string }
  | { kind: "unpublished"; family: null };

const SOURCES: Record<string, ModelSource> = {
  tiny: { kind: "generated", family: "generic", how: "npm start generates it (or npm run tiny -w @videosdgx/workers -- <dir> --force)" },
  tinywan: { kind: "generated", family: "wan", how: "npm start generates it" },
  tinywani2v: { kind: "generated", family: "wan", how: "npm start generates it" },
  tinyltx2: { kind: "generated", family: "ltx2", how: "npm start generates it" },
  tinymagi: { kind: "generated", family: "magi", how: "npm start generates it" },
  wan21: {
    kind: "hub",
    family: "wan",
    layout: "diffusers checkpoint (WanPipeline)",
    parts: [
      {
        repo: "Wan-AI/Wan2.1-T2V-14B-Diffusers",
        revision: "main",
        include: ["model_index.json", "scheduler/*", "tokenizer/*", "text_encoder/*", "transformer/*", "vae/*"],
      },
    ],
  },
  ltx2: {
    kind: "hub",
    family: "ltx2",
    layout: "diffusers checkpoint (LTX2Pipeline) plus the Gemma 3 12B text encoder",
    parts: [
      {
        repo: "Lightricks/LTX-2",
        revision: "main",
        // The repository root also holds single-file checkpoints (ltx-2-19b-*.safetensors, tens of GB each)
        // that the diffusers pipeline does not read: only its component folders are fetched.
        include: ["model_index.json", "scheduler/*", "connectors/*", "transformer/*", "vae/*", "audio_vae/*", "vocoder/*"],
      },
      {
        repo: "google/gemma-3-12b-it",
        revision: "main",
        include: ["*.json", "*.safetensors", "tokenizer.model"],
        into: "text_encoder",
        gated: "Gemma Terms of Use",
      },
    ],
  },
  magi1: {
    kind: "hub",
    family: "magi",
    layout: "Sand AI's own checkpoint layout (ckpt/), not diffusers: 4.5B base, VAE, T5; the export also needs Sand AI's example/4.5B/4.5B_base_config.json as magi_config.json",
    parts: [
      {
        repo: "sand-ai/MAGI-1",
        revision: "main",
        // The base checkpoint: the distilled and fp8 ones are refused by the export (README "MAGI-1 export").
        include: ["ckpt/magi/4.5B_base/**", "ckpt/vae/**", "ckpt/t5/**"],
      },
    ],
  },
  waver: { kind: "unpublished", family: null },
};

/** By model name; undefined for models the platform does not know (a folder placed by hand). */
export function modelSource(name: string): ModelSource | undefined {
  return Object.hasOwn(SOURCES, name) ? SOURCES[name] : undefined;
}

/** The licence page a gated repository's licence is accepted on. */
export const hubRepoPage = (repo: string) => `https://huggingface.co/${repo}`;

/** Pulled checkpoints live apart from served folders: a dot-folder is never listed as a model. */
export const CHECKPOINTS_DIR = ".checkpoints";
/** Downloads in progress; moved into place only when every file is there and verified. */
export const PARTIAL_DIR = ".partial";
