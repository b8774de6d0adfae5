import { ManifestSchema, type Manifest, type ManifestInput } from "./manifest.js";

const GB = 1_000_000_000;

/**
 * The models the platform knows by name, with the constraints their authors publish
 * (../shared/reference/models.md). A folder's own manifest is what a worker runs; these entries let
 * `GET /v1/models` describe a model, and explain what is missing, before anyone installs it.
 */
const CATALOG: ManifestInput[] = [
  {
    schema_version: 1,
    name: "tiny",
    display_name: "Tiny analytic test model (built in)",
    license: "MIT",
    weights_public: true,
    constraints: {
      frames: { step: 4, offset: 1, min: 5, max: 129, default: 17 },
      resolution: {
        multiple: 16, min_width: 32, max_width: 512, min_height: 32, max_height: 512,
        default_width: 256, default_height: 256,
      },
      fps: { min: 1, max: 60, default: 16 },
      steps: { min: 1, max: 1000, default: 8 },
      guidance: { min: 0, max: 10, default: 1.5 },
    },
    latent: { channels: 4, spatial_factor: 8, temporal_factor: 4, patch: [1, 2, 2] },
    text: { max_tokens: 32 },
    memory: { resident_bytes: 64 * 1024 * 1024, load_peak_factor: 2 },
    capabilities: { audio: false, chunked: false },
  },
  {
    schema_version: 1,
    name: "ltx2",
    family: "ltx2",
    display_name: "LTX-2 19B (Lightricks), distilled fp8 with Gemma 3 12B",
    license: "LTX-2 Community License (paid licence above $10M revenue)",
    weights_public: true,
    constraints: {
      frames: { step: 8, offset: 1, min: 9, max: 257, default: 121 },
      resolution: {
        multiple: 32, min_width: 256, max_width: 1920, min_height: 256, max_height: 1088,
        default_width: 768, default_height: 512,
      },
      fps: { min: 1, max: 60, default: 24 },
      steps: { min: 1, max: 100, default: 40 },
      guidance: { min: 0, max: 20, default: 4 },
    },
    latent: { channels: 128, spatial_factor: 32, temporal_factor: 8, patch: [1, 1, 1] },
    text: { max_tokens: 1024 },
    memory: { resident_bytes: 52 * GB, load_peak_factor: 2 },
    capabilities: { audio: true, chunked: false },
  },
  {
    schema_version: 1,
    name: "wan21",
    family: "wan",
    display_name: "Wan 2.1 T2V 14B (fp8) with umT5-XXL",
    license: "Apache-2.0",
    weights_public: true,
    constraints: {
      frames: { step: 4, offset: 1, min: 5, max: 81, default: 81 },
      resolution: {
        multiple: 16, min_width: 256, max_width: 1280, min_height: 256, max_height: 1280,
        default_width: 832, default_height: 480,
      },
      fps: { min: 1, max: 60, default: 16 },
      steps: { min: 1, max: 100, default: 50 },
      guidance: { min: 0, max: 20, default: 5 },
    },
    latent: { channels: 16, spatial_factor: 8, temporal_factor: 4, patch: [1, 2, 2] },
    text: { max_tokens: 512 },
    memory: { resident_bytes: 21.3 * GB, load_peak_factor: 2 },
    capabilities: { audio: false, chunked: false },
  },
  {
    schema_version: 1,
    name: "magi1",
    family: "magi",
    // The 4.5B base model: the distilled and fp8 checkpoints guide and compute in ways the magi contract does
    // not carry, and 24B base in float32 (about 96 GB a copy) does not fit the export on a 128 GB machine.
    display_name: "MAGI-1 4.5B base with T5-v1.1-XXL",
    license: "Apache-2.0",
    weights_public: true,
    constraints: {
      // Generated in 24-frame chunks; longer videos continue chunk by chunk.
      frames: { step: 24, offset: 0, min: 24, max: 1440, default: 96 },
      resolution: {
        multiple: 16, min_width: 256, max_width: 1280, min_height: 256, max_height: 1280,
        default_width: 720, default_height: 720,
      },
      fps: { min: 1, max: 60, default: 24 },
      steps: { min: 4, max: 100, default: 64 },
      guidance: { min: 0, max: 20, default: 7.5 },
    },
    latent: { channels: 16, spatial_factor: 8, temporal_factor: 4, patch: [1, 2, 2] },
    text: { max_tokens: 800 },
    // MAGI splits each chunk's steps evenly over its window of 4.
    sampling: { steps_multiple: 4 },
    // float32 graphs: the 4.5B DiT (18 GB), T5-XXL's encoder (19 GB), the VAE decoder.
    memory: { resident_bytes: 38 * GB, load_peak_factor: 2 },
    capabilities: { audio: false, chunked: true },
  },
  {
    schema_version: 1,
    name: "waver",
    display_name: "Waver 1.0 (FoundationVision)",
    license: "none published",
    weights_public: false,
    constraints: {
      frames: { step: 1, offset: 0, min: 48, max: 240, default: 120 },
      resolution: {
        multiple: 16, min_width: 256, max_width: 1920, min_height: 256, max_height: 1088,
        default_width: 1280, default_height: 720,
      },
      fps: { min: 1, max: 60, default: 24 },
      steps: { min: 1, max: 100, default: 50 },
      guidance: { min: 0, max: 20, default: 8 },
    },
    latent: { channels: 16, spatial_factor: 8, temporal_factor: 4, patch: [1, 2, 2] },
    text: { max_tokens: 512 },
    memory: { resident_bytes: 90 * GB, load_peak_factor: 2 },
    capabilities: { audio: false, chunked: false },
  },
];

/** By name. A Map, so a name like "constructor" finds nothing rather than an object's prototype. */
export const KNOWN_MODELS: ReadonlyMap<string, Manifest> = new Map(CATALOG.map((m) => [m.name, ManifestSchema.parse(m)]));

export const WEIGHTS_NOT_PUBLIC_REASON =
  "its weights are not public: the authors' repository holds only a README, with no code, weights or licence";

/**
 * The models the project generates itself (workers/src/builtin writes them; `npm start` regenerates one
 * that is missing, outdated or damaged) rather than downloads.
 */
export const BUILTIN_MODEL_NAMES = ["tiny", "tinywan", "tinywani2v", "tinyltx2", "tinymagi"] as const;
export type BuiltinModelName = (typeof BUILTIN_MODEL_NAMES)[number];

export const isBuiltinModel = (name: string): name is BuiltinModelName => (BUILTIN_MODEL_NAMES as readonly string[]).includes(name);
