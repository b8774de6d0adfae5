import path from "node:path";
import { Queue, type Job } from "bullmq";
import type { Redis } from "ioredis";
import ort from "onnxruntime-node";
import { createRedis, loadConfig } from "@videosdgx/shared";
import { TestRedis, makeTempDir } from "@videosdgx/shared/testing";
import { DataType, GraphBuilder, ModelSession } from "@videosdgx/workers/onnx";
import { audioCoords, jointDenoise, ltx2Samplers, videoCoords } from "@videosdgx/workers/ltx2";
import { denoise, parseSchedulerConfig, type LatentShape } from "@videosdgx/workers/pipeline";
import { sessionOptions } from "@videosdgx/workers/runtime";
import { TINYWAN_SCHEDULER_CONFIG } from "@videosdgx/workers/tinywan";
import { round, type BenchRow } from "./stats.js";

/** The options a worker opens its sessions with by default (thread pools that sleep after a run, ...). */
export const WORKER_SESSION_OPTIONS = sessionOptions(loadConfig({}));

/** Wan 2.1 at 480p: 16 latent channels, 21 latent frames (81 frames), 60 x 104 (480 x 832 / 8). */
export const WAN_480P: LatentShape = { channels: 16, frames: 21, height: 60, width: 104, tokens: 21 * 30 * 52 };
/** umT5-XXL hidden states: 512 tokens of 4096, for the unconditional and conditional prompts. */
export const TEXT_DIMS = [2, 512, 4096];

/**
 * A transformer that only scales its input: ONNX Runtime's share is then measured and subtracted. With
 * `type` FLOAT16 its inputs and outputs are float16 as in a real export; their conversions are Cast nodes
 * in the graph (boundary-casts.ts), so they are in ONNX Runtime's share, reported beside the row.
 */
export function scalingTransformer(type: typeof DataType.FLOAT | typeof DataType.FLOAT16): Uint8Array {
  const g = new GraphBuilder("bench_transformer");
  const x = g.input("hidden_states", type, ["batch", 16, "f", "h", "w"]);
  g.input("timestep", type, ["batch"]);
  g.input("encoder_hidden_states", type, ["batch", "seq", 4096]);
  const scale = type === DataType.FLOAT ? g.scalar(0.01) : g.op("Cast", [g.scalar(0.01)], { to: { int: type } });
  g.output(g.op("Mul", [x, scale]), "out_hidden_states", type, ["batch", 16, "f", "h", "w"]);
  return g.build();
}

/** LTX-2 at 768x512, 121 frames: 16 x 16 x 24 video tokens of 128, 126 audio latent frames of 8 x 16, 1024 text tokens. */
const LTX2 = { frames: 16, height: 16, width: 24, channels: 128, audioFrames: 126, audioFeatures: 128, text: 1024, videoText: 3840, audioText: 2048 };

/** The ltx2 contract's transformer that only scales its latents, so ONNX Runtime's share can be subtracted. */
function scalingLtx2Transformer(): Uint8Array {
  const g = new GraphBuilder("bench_ltx2_transformer");
  const x = g.input("hidden_states", DataType.FLOAT, ["batch", "video_tokens", LTX2.channels]);
  const a = g.input("audio_hidden_states", DataType.FLOAT, ["batch", "audio_tokens", LTX2.audioFeatures]);
  g.input("encoder_hidden_states", DataType.FLOAT, ["batch", "seq", LTX2.videoText]);
  g.input("audio_encoder_hidden_states", DataType.FLOAT, ["batch", "seq", LTX2.audioText]);
  for (const name of ["timestep", "sigma", "perturbation_mask"]) g.input(name, DataType.FLOAT, ["batch"]);
  for (const name of ["encoder_attention_mask", "audio_encoder_attention_mask"]) g.input(name, DataType.INT64, ["batch", "seq"]);
  for (const name of ["num_frames", "height", "width", "audio_num_frames"]) g.input(name, DataType.INT64, [1]);
  g.input("fps", DataType.FLOAT, [1]);
  g.input("video_coords", DataType.FLOAT, ["batch", 3, "video_tokens", 2]);
  g.input("audio_coords", DataType.FLOAT, ["batch", 1, "audio_tokens", 2]);
  g.input("isolate_modalities", DataType.BOOL, [1]);
  g.output(g.op("Mul", [x, g.scalar(0.01)]), "sample", DataType.FLOAT, ["batch", "video_tokens", LTX2.channels]);
  g.output(g.op("Mul", [a, g.scalar(0.01)]), "audio_sample", DataType.FLOAT, ["batch", "audio_tokens", LTX2.audioFeatures]);
  return g.build();
}

/**
 * LTX-2's guidance in x0 space with three transformer passes a step (text CFG as a batch of 2, STG,
 * modality isolation), rescale, both schedulers' steps and the progress write: the platform's own time
 * per step, ONNX Runtime's excluded, against one copy of the CFG batch's video latent.
 */
async function ltx2StepRow(steps: number, afterStep: (step: number, total: number) => Promise<void>): Promise<BenchRow> {
  const transformer = await ModelSession.open(scalingLtx2Transformer(), WORKER_SESSION_OPTIONS);
  try {
    const tokens = LTX2.frames * LTX2.height * LTX2.width;
    const scheduler = parseSchedulerConfig({
      use_dynamic_shifting: true, base_shift: 0.95, max_shift: 2.05, base_image_seq_len: 1024, max_image_seq_len: 4096, shift_terminal: 0.1,
    });
    const text = (dim: number) => new ort.Tensor("float32", new Float32Array(2 * LTX2.text * dim), [2, LTX2.text, dim]);
    const prompts = { video: text(LTX2.videoText), audio: text(LTX2.audioText), mask: new ort.Tensor("int64", new BigInt64Array(2 * LTX2.text).fill(1n), [2, LTX2.text]) };
    const scales = { guidance: 3, stg: 1, modality: 3, rescale: 0.7 };
    const run = async () => {
      const samplers = ltx2Samplers(scheduler, steps, tokens);
      const started = performance.now();
      const { runtimeMs } = await jointDenoise({
        transformer, prompts,
        video: new Float32Array(tokens * LTX2.channels).fill(0.5), audio: new Float32Array(LTX2.audioFrames * LTX2.audioFeatures).fill(0.5),
        dims: { videoTokens: tokens, videoChannels: LTX2.channels, audioTokens: LTX2.audioFrames, audioFeatures: LTX2.audioFeatures },
        grid: { frames: LTX2.frames, height: LTX2.height, width: LTX2.width, fps: 24, audioFrames: LTX2.audioFrames },
        videoCoords: videoCoords({ channels: LTX2.channels, frames: LTX2.frames, height: LTX2.height, width: LTX2.width }, { temporal: 8, spatial: 32 }, 24),
        audioCoords: audioCoords(LTX2.audioFrames, 4, 160, 16000),
        videoSampler: samplers.video, audioSampler: samplers.audio, videoScales: scales, audioScales: { ...scales, guidance: 7 },
        afterStep,
      });
      return (performance.now() - started - runtimeMs) / steps;
    };
    await run();
    const platformMs = Math.min(await run(), await run(), await run());
    const copyMs = copyTimeMs(2 * tokens * LTX2.channels);
    return {
      bench: "step", metric: "platform time per denoising step, LTX-2 768x512x121, x0 guidance with 3 passes", unit: "ms",
      platform: round(platformMs), baseline: round(copyMs), baseline_name: "one copy of the CFG batch's video latent (2 x 6144x128 float32)",
      ratio: round(copyMs / platformMs, 3), target: "< 30 ms per step", pass: platformMs < 30,
    };
  } finally {
    await transformer.release();
  }
}

/** What the worker does after every step (process-job.ts): the cancellation check and the progress write, sent together. */
export function workerProgress(connection: Redis, job: Job, cancelKey: string) {
  return async (step: number, total: number, extra: object = {}): Promise<void> => {
    await Promise.all([connection.exists(cancelKey), job.updateProgress({ phase: "denoising", step, total, timings: {}, ...extra })]);
  };
}

/** The baseline: the fastest of 20 copies of `floats` float32 values (the least any step must move). */
export function copyTimeMs(floats: number): number {
  const src = new Float32Array(floats);
  const dst = new Float32Array(floats);
  const copies: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    dst.set(src);
    copies.push(performance.now() - t);
  }
  return Math.min(...copies);
}

/** Wan 2.1's own step: UniPC order 2 (its scheduler_config.json), CFG as a batch of 2. */
async function wanStepRow(steps: number, type: typeof DataType.FLOAT | typeof DataType.FLOAT16, afterStep: (step: number, total: number) => Promise<void>): Promise<BenchRow> {
  const transformer = await ModelSession.open(scalingTransformer(type), WORKER_SESSION_OPTIONS);
  try {
    const text = new ort.Tensor("float32", new Float32Array(TEXT_DIMS.reduce((a, b) => a * b, 1)), TEXT_DIMS);
    const scheduler = parseSchedulerConfig(TINYWAN_SCHEDULER_CONFIG);
    const run = async () => {
      const started = performance.now();
      const { runtimeMs } = await denoise({
        transformer, scheduler, shape: WAN_480P, textStates: text, steps, guidance: 5, seed: 42, outputName: "out_hidden_states", afterStep,
      });
      return { platform: (performance.now() - started - runtimeMs) / steps, runtime: runtimeMs / steps };
    };
    await run(); // warm-up: JIT and allocator
    const runs = [await run(), await run(), await run()];
    const best = runs.reduce((a, b) => (b.platform < a.platform ? b : a));
    const platformMs = best.platform;
    const copyMs = copyTimeMs(2 * WAN_480P.channels * WAN_480P.frames * WAN_480P.height * WAN_480P.width);
    const half = type === DataType.FLOAT16;
    return {
      bench: "step",
      metric: `platform time per denoising step, Wan 2.1 480p latent, UniPC order 2, CFG on, ${half ? "float16 transformer (boundary casts in its graph)" : "float32 transformer"}`,
      unit: "ms", platform: round(platformMs), baseline: round(copyMs), baseline_name: "one copy of the batched latent (2 x 16x21x60x104 float32)",
      ratio: round(copyMs / platformMs, 3), target: "< 20 ms per step", pass: platformMs < 20, runtime: round(best.runtime),
    };
  } finally {
    await transformer.release();
  }
}

/**
 * (b) The platform's own time per denoising step (noise, batching copies, guidance and the sampler
 * update, the crossings to the session thread, cancellation check and progress write to a real Redis),
 * ONNX Runtime's time excluded (a float16 graph's boundary casts are its), against one bare copy of the
 * batched latent as the memory-bandwidth floor measured in the same run.
 */
export async function stepBench(steps: number): Promise<BenchRow[]> {
  const { dir, remove } = await makeTempDir("vdgx-bench-step");
  const redis = await TestRedis.start(path.join(dir, "redis"));
  const connection = createRedis(redis.url, "worker");
  const queue = new Queue("bench-step", { connection, prefix: "bench" });
  try {
    const job = await queue.add("step", {});
    const progress = workerProgress(connection, job, "bench:cancel:step");
    return [
      await ltx2StepRow(steps, progress),
      await wanStepRow(steps, DataType.FLOAT, progress),
      await wanStepRow(steps, DataType.FLOAT16, progress),
    ];
  } finally {
    await queue.close();
    connection.disconnect();
    await redis.kill("SIGTERM");
    await remove();
  }
}
