import path from "node:path";
import type { EffectiveParams, Phase, Timings } from "@videosdgx/shared";
import type { LoadedModel } from "../runtime/loaded-model.js";
import { encodeMp4 } from "../video/mp4-encoder.js";
import { decodeLatent } from "./decode.js";
import { denoise, usesGuidance } from "./denoise.js";
import { latentShape } from "./latent-shape.js";
import { encodePrompts } from "./text-encoding.js";

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

async function timed<T>(timings: Timings, key: keyof Timings, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    timings[key] = Math.round(performance.now() - started);
  }
}

/** One job, stage by stage: text encoder -> seeded latents -> sampler -> VAE decoder -> MP4. */
export async function generateVideo(
  model: LoadedModel,
  params: EffectiveParams,
  outputName: string,
  video: VideoSettings,
  hooks: GenerationHooks,
  timings: Timings,
): Promise<GeneratedVideo> {
  const shape = latentShape(model.manifest, params.num_frames, params.width, params.height);
  const guided = usesGuidance(params.guidance);

  await hooks.progress("encoding_text", 0, params.steps, timings);
  const prompts = guided ? [params.negative_prompt, params.prompt] : [params.prompt];
  const textStates = await timed(timings, "encode_text_ms", () => encodePrompts(model, prompts));

  await hooks.progress("denoising", 0, params.steps, timings);
  const { latent } = await timed(timings, "denoise_ms", () =>
    denoise({
      transformer: model.transformer,
      scheduler: model.scheduler,
      shape,
      textStates,
      steps: params.steps,
      guidance: params.guidance,
      seed: params.seed,
      afterStep: (step, total) => hooks.progress("denoising", step, total, timings),
    }),
  );

  await hooks.progress("decoding", params.steps, params.steps, timings);
  const frames = await timed(timings, "decode_ms", () =>
    decodeLatent(model.vaeDecoder, latent, shape, { frames: params.num_frames, width: params.width, height: params.height }),
  );

  await hooks.progress("encoding_video", params.steps, params.steps, timings);
  const file = path.join(video.outputsDir, outputName);
  const encoded = await timed(timings, "encode_video_ms", () =>
    encodeMp4(frames, {
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
