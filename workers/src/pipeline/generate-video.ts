import path from "node:path";
import type { EffectiveParams, Phase, Progress, Timings } from "@videosdgx/shared";
import type { FamilyPipeline, JobInputs, StageRun } from "../families/family.js";
import { Previewer } from "../preview/previewer.js";
import type { LoadedModel } from "../runtime/loaded-model.js";
import { GrowingMp4 } from "../video/fragmented-mp4.js";
import { encodeMp4, type EncodeOptions, type EncodedVideo, type X264Settings } from "../video/mp4-encoder.js";

export interface VideoSettings {
  outputsDir: string;
  preset: string;
  crf: number;
  threads: number;
}

export interface GenerationHooks {
  /** Reports a phase change or a finished step; throws to stop the job (cancellation). */
  progress(phase: Phase, step: number, total: number, timings: Timings): Promise<void>;
  signal: AbortSignal;
  /** A chunk-wise job's chunk is downloadable: its state goes into every progress report from now on. */
  chunk?(report: ChunkReport): Promise<void>;
  /** Previews while sampling, for models whose manifest has a projection. */
  preview?: PreviewHooks;
}

export interface PreviewHooks {
  /** PREVIEW_EVERY_STEPS (0: none). */
  everySteps: number;
  /** Where the latest preview is written. */
  file: string;
  /** A preview of `step` is in place. */
  published(step: number): Promise<void>;
  /** Previews stopped for this job; the job goes on. */
  failed(err: Error): void;
}

/** The streaming fields of a progress report (shared/src/contracts/generate-queue.ts). */
export type ChunkReport = Required<Pick<Progress, "chunks_done" | "chunks_total" | "frames_ready" | "partial_video" | "chunk">>;

export interface GeneratedVideo {
  file: string;
  bytes: number;
  sha256: string;
  timings: Timings;
}

/** Reports each stage's phase (with the steps done so far) and records its time. */
function stageRun(total: number, hooks: GenerationHooks, timings: Timings, preview: Previewer | undefined): StageRun {
  let done = 0;
  return {
    ...(preview ? { preview } : {}),
    async stage(phase, key, fn) {
      await hooks.progress(phase, done, total, timings);
      const started = performance.now();
      try {
        return await fn();
      } finally {
        timings[key] = Math.round(performance.now() - started);
      }
    },
    step: async (step, steps) => {
      done = step;
      await hooks.progress("denoising", step, steps, timings);
    },
  };
}

/** One job: the model's family pipeline makes the frames (text, latents, sampler, decoder), then the MP4. */
export async function generateVideo(
  model: LoadedModel,
  params: EffectiveParams,
  outputName: string,
  video: VideoSettings,
  hooks: GenerationHooks,
  timings: Timings,
  inputs: JobInputs = {},
): Promise<GeneratedVideo> {
  const preview = await previewerFor(model, params, hooks.preview);
  const run = stageRun(params.steps, hooks, timings, preview);
  const file = path.join(video.outputsDir, outputName);
  const x264: X264Settings = { width: params.width, height: params.height, fps: params.fps, preset: video.preset, crf: video.crf, threads: video.threads };
  const { pipeline } = model;
  let encoded: EncodedVideo;
  try {
    if (pipeline.stream) {
      encoded = await streamVideo(pipeline.stream.bind(pipeline), params, run, new GrowingMp4(file, x264, hooks.signal), hooks, timings);
    } else {
      const { frames, audio } = pipeline.renderWithSound ? await pipeline.renderWithSound(params, run) : { frames: await pipeline.render(params, run, inputs) };
      // The last preview is published before the video's encode, so it never lands after the job ends.
      await preview?.close();
      encoded = await wholeVideo(frames, run, { ...x264, outPath: file, signal: hooks.signal, audio });
    }
  } finally {
    await preview?.close();
  }
  return { file, bytes: encoded.bytes, sha256: encoded.sha256, timings };
}

/** The job's previewer when previews are on and the model's manifest gives a projection. */
async function previewerFor(model: LoadedModel, params: EffectiveParams, hooks: PreviewHooks | undefined): Promise<Previewer | undefined> {
  const projection = model.manifest.preview;
  if (!hooks || hooks.everySteps === 0 || !projection) return undefined;
  const sf = model.manifest.latent.spatial_factor;
  return Previewer.create({
    projection, everySteps: hooks.everySteps, file: hooks.file, published: hooks.published, failed: hooks.failed,
    latent: { width: params.width / sf, height: params.height / sf },
  });
}

/** A pipeline's finished frames, encoded in one go. */
function wholeVideo(frames: Uint8Array, run: StageRun, options: EncodeOptions): Promise<EncodedVideo> {
  return run.stage("encoding_video", "encode_video_ms", () => encodeMp4(frames, options));
}

/**
 * A chunk-wise pipeline's video, written while it is generated: each chunk's frames are appended to the
 * growing file and announced (progress with the chunk's state), then the file becomes the final MP4.
 * Encoding time adds up over the chunks.
 */
async function streamVideo(
  stream: NonNullable<FamilyPipeline["stream"]>,
  params: EffectiveParams,
  run: StageRun,
  video: GrowingMp4,
  hooks: GenerationHooks,
  timings: Timings,
): Promise<EncodedVideo> {
  let encodeMs = 0;
  const timed = async <T>(fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      encodeMs += performance.now() - started;
      timings.encode_video_ms = Math.round(encodeMs);
    }
  };
  // The chunks' encodes, and the final remux timed by its stage below, make encode_video_ms.
  try {
    await stream(params, run, {
      chunk: async (frames, index, total) => {
        const state = await timed(() => video.append(frames));
        await hooks.chunk?.({
          chunk: index, chunks_done: index + 1, chunks_total: total, frames_ready: state.frames,
          partial_video: { file: state.file, bytes: state.bytes },
        });
      },
    });
    const encoded = await run.stage("encoding_video", "encode_video_ms", () => video.finish());
    timings.encode_video_ms = Math.round(encodeMs + (timings.encode_video_ms ?? 0));
    return encoded;
  } catch (err) {
    await video.discard();
    throw err;
  }
}
