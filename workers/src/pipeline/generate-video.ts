import path from "node:path";
import type { EffectiveParams, Phase, Timings } from "@videosdgx/shared";
import type { StageRun } from "../families/family.js";
import type { LoadedModel } from "../runtime/loaded-model.js";
import { encodeMp4 } from "../video/mp4-encoder.js";

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
}

export interface GeneratedVideo {
  file: string;
  bytes: number;
  sha256: string;
  timings: Timings;
}

/** Reports each stage's phase (with the steps done so far) and records its time. */
function stageRun(total: number, hooks: GenerationHooks, timings: Timings): StageRun {
  let done = 0;
  return {
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
): Promise<GeneratedVideo> {
  const run = stageRun(params.steps, hooks, timings);
  const { pipeline } = model;
  const { frames, audio } = pipeline.renderWithSound ? await pipeline.renderWithSound(params, run) : { frames: await pipeline.render(params, run) };
  const file = path.join(video.outputsDir, outputName);
  const encoded = await run.stage("encoding_video", "encode_video_ms", () =>
    encodeMp4(frames, {
      audio,
      width: params.width,
      height: params.height,
      fps: params.fps,
      outPath: file,
      preset: video.preset,
      crf: video.crf,
      threads: video.threads,
      signal: hooks.signal,
    }),
  );
  return { file, bytes: encoded.bytes, sha256: encoded.sha256, timings };
}
