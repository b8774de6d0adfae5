import type { EffectiveParams, FamilyContract, Phase, Timings } from "@videosdgx/shared";
import type { ModelFolder } from "../runtime/model-folder.js";
import type { PreviewSink } from "../preview/preview-sink.js";
import type { FrameParts } from "../video/frame-parts.js";
import type { Waveform } from "../video/mp4-encoder.js";

/** How a family's pipeline reports its work: each stage timed under its phase, and every finished step. */
export interface StageRun {
  stage<T>(phase: Phase, timing: keyof Timings, fn: () => Promise<T>): Promise<T>;
  /** After each denoising step; throws to stop the job (cancellation). */
  step(step: number, total: number): Promise<void>;
  /** Takes x0 estimates for previews; absent when previews are off or the manifest has no projection. */
  preview?: PreviewSink;
}

/** A video and, when the job asks for it, its sound track. */
export interface AudioVisual {
  frames: Uint8Array;
  audio?: Waveform;
}

/** Where a chunk-wise pipeline hands each chunk's frames as soon as they are decoded. */
export interface ChunkSink {
  /**
   * uint8 RGB frames [f, H, W, 3] of chunk `index` (0-based) of `total`, in parts as they are converted;
   * resolves once they are in the video. Parts not read by then are dropped.
   */
  chunk(frames: FrameParts, index: number, total: number): Promise<void>;
}

/** A job's input files, read from the input store and checked against the job's params. */
export interface JobInputs {
  /** The image of an image-to-video job (params.image), as uploaded. */
  image?: Buffer;
}

/** A family's pipeline over one loaded folder. */
export interface FamilyPipeline {
  /** A job's video as uint8 RGB frames [F, H, W, 3], what the MP4 encoder takes. */
  render(params: EffectiveParams, run: StageRun, inputs?: JobInputs): Promise<Uint8Array>;
  /** Families with sound: the video and its sound track (none when the job says `audio: false`). */
  renderWithSound?(params: EffectiveParams, run: StageRun): Promise<AudioVisual>;
  /** Chunk-wise families: the same video handed over chunk by chunk, so it can be watched while it grows. */
  stream?(params: EffectiveParams, run: StageRun, sink: ChunkSink): Promise<void>;
}

/**
 * A model family: its folder contract (shared with inspection) and how it loads a folder into a
 * pipeline. Sessions are opened through the folder, which checks them against the contract and
 * releases them with the model.
 */
export interface FamilyModule {
  readonly contract: FamilyContract;
  load(folder: ModelFolder): Promise<FamilyPipeline>;
}
