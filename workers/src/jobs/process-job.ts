import { WaitingError, type Job } from "bullmq";
import path from "node:path";
import type { Redis } from "ioredis";
import {
  JobFailure,
  previewFileOf,
  previewUrlOf,
  type Config,
  type EnvironmentProblem,
  type InputStore,
  type JobData,
  type JobOutput,
  type Logger,
  type MemoryWait,
  type OutputStore,
  type Phase,
  type Progress,
  type RedisKeys,
  type Timings,
} from "@videosdgx/shared";
import { generateVideo, type ChunkReport } from "../pipeline/generate-video.js";
import type { GpuGate } from "../runtime/gpu-gate.js";
import type { MemoryGuard } from "../runtime/memory-guard.js";
import type { ModelHost } from "../runtime/model-host.js";
import { removeStalePartials } from "../video/mp4-encoder.js";
import { storeOutputs } from "./store-outputs.js";
import { backToWaiting } from "./environment-wait.js";
import { classifyFailure, toQueueError } from "./failure.js";
import { readJobInputs } from "./job-inputs.js";
import { StepTimer } from "./step-timer.js";
import { WaitReports } from "./wait-reports.js";

export interface ProcessorDeps {
  config: Config;
  host: ModelHost;
  gpu: GpuGate;
  memory: MemoryGuard;
  redis: Redis;
  keys: RedisKeys;
  log: Logger;
  /** Aborted when the process must stop now: ends a running ffmpeg. */
  shutdown: AbortSignal;
  /** Jobs' input files (image-to-video images). */
  inputs: InputStore;
  /** Where finished files go (OUTPUT_STORE); the job completes only once they are there. */
  store: OutputStore;
  /** Checks ffmpeg, OUTPUTS_DIR and the output store now; a problem found has already paused the worker. */
  environment: { check(): Promise<EnvironmentProblem | undefined> };
}

/** The BullMQ processor for one model's queue: one generation per job, progress after every step. */
export function createProcessor(deps: ProcessorDeps) {
  const { config, host, redis, keys } = deps;
  return async (job: Job<JobData, JobOutput>, params: JobData, token?: string): Promise<JobOutput> => {
    const started = performance.now();
    const jobId = job.id!;
    // Every line this attempt logs names its job and attempt (runs started, as the API's `attempts`).
    const log = deps.log.child({ job_id: jobId, attempt: job.attemptsStarted });
    const outputName = `${jobId}.mp4`;
    const timings: Timings = {};

    const cancelledByRequest = () => new JobFailure("cancelled", "cancelled by request", false);
    const throwIfCancelled = async () => {
      if (await redis.exists(keys.cancel(jobId))) throw cancelledByRequest();
    };
    // A chunk-wise job's streaming state, carried by every report after its first chunk.
    let streamed: Omit<ChunkReport, "chunk"> | undefined;
    // The latest preview, likewise carried by every report after it.
    let previewed: Progress["preview"];
    // This attempt's mean step time, likewise carried by every report once known.
    const stepTimer = new StepTimer();
    type Announcement = Partial<Pick<Progress, "chunk" | "new_preview">>;
    // The cancellation check and the report go out together: one round trip to Redis a step, not two.
    const progress = async (phase: Phase, step: number, total: number, t: Timings, memory?: MemoryWait, announces: Announcement = {}) => {
      const p: Progress = {
        phase, step, total, timings: t, host: config.HOST_ID, ...(memory ? { memory } : {}), ...streamed, ...(previewed ? { preview: previewed } : {}),
        ...(stepTimer.stepMs === undefined ? {} : { step_ms: stepTimer.stepMs }), ...announces,
      };
      const [cancelled] = await Promise.all([redis.exists(keys.cancel(jobId)), job.updateProgress(p)]);
      if (cancelled) throw cancelledByRequest();
    };
    let lastStep = { phase: "denoising" as Phase, step: 0, total: params.steps };
    const onProgress = async (phase: Phase, step: number, total: number, t: Timings, memory?: MemoryWait) => {
      lastStep = { phase, step, total };
      if (phase === "denoising") stepTimer.reached(step);
      await progress(phase, step, total, t, memory);
    };
    const onChunk = async ({ chunk, ...state }: ChunkReport) => {
      // The new fragments are readable from the store before anyone is told they exist.
      const growing = state.partial_video;
      await deps.store.putPart(growing.file, path.join(config.OUTPUTS_DIR, growing.file), streamed?.partial_video.bytes ?? 0, growing.bytes);
      streamed = state;
      await progress(lastStep.phase, lastStep.step, lastStep.total, timings, undefined, { chunk });
    };
    const previewName = previewFileOf(jobId);
    let previewsUnstored = false;
    const preview = {
      everySteps: config.PREVIEW_EVERY_STEPS,
      file: path.join(config.OUTPUTS_DIR, previewName),
      // Called from the previewer's own chain beside the denoising loop, so the upload never holds a step.
      published: async (step: number) => {
        // With OUTPUT_STORE=s3 the API (on any host) serves previews from the store: each is there, under
        // the job's key (a rerun replaces it), before it is announced. A store that fails one costs that
        // preview only: the job goes on, the next preview tries again, the job's end stores the latest.
        try {
          await deps.store.put(previewName, preview.file, "image/jpeg");
        } catch (err) {
          // Once per outage, not once per preview (they may come every step).
          if (!previewsUnstored) log.warn("previews cannot be stored; none is announced until the store takes one", { step, error: (err as Error).message });
          previewsUnstored = true;
          return;
        }
        if (previewsUnstored) log.info("previews are stored again", { step });
        previewsUnstored = false;
        previewed = { step, url: previewUrlOf(jobId) };
        await progress(lastStep.phase, lastStep.step, lastStep.total, timings, undefined, { new_preview: true });
      },
      failed: (err: Error) => {
        if (!(err instanceof JobFailure && err.code === "cancelled")) log.warn("previews stopped for this job", { error: err.message });
      },
    };
    // Every wake-up checks for cancellation; only a changed wait state becomes a progress event.
    const waitReports = new WaitReports();
    const reportWait = async (phase: Phase, wait?: MemoryWait) => {
      if (waitReports.changed(phase, wait, performance.now())) await progress(phase, 0, params.steps, timings, wait);
      else await throwIfCancelled();
    };
    let waitStarted: number | undefined;
    const onMemoryWait = async (wait: MemoryWait) => {
      waitStarted ??= performance.now();
      timings.wait_for_memory_ms = Math.round(performance.now() - waitStarted);
      await reportWait("waiting_for_memory", wait);
    };

    try {
      await throwIfCancelled();
      // A job this host cannot finish goes back to the queue before any work, not through a failed attempt.
      const before = await deps.environment.check();
      if (before) await backToWaiting(job, token, before, timings, config.HOST_ID);
      // A killed earlier attempt may have left a half-written file; this attempt writes its own.
      await removeStalePartials(config.OUTPUTS_DIR, outputName);
      await deps.store.removePartials(`${outputName}.`);
      const inputs = await readJobInputs(deps.inputs, params);
      const gpuWaitStarted = performance.now();
      let waitedForGpu = false;
      await deps.gpu.acquire({ priority: job.opts.priority ?? 0, since: job.timestamp }, host.loaded, async () => {
        waitedForGpu = true;
        timings.wait_for_gpu_ms = Math.round(performance.now() - gpuWaitStarted);
        await reportWait("waiting_for_gpu");
      });
      if (waitedForGpu) timings.wait_for_gpu_ms = Math.round(performance.now() - gpuWaitStarted);
      if (!host.loaded) await progress("loading", 0, params.steps, timings);
      const video = await host.use({ onMemoryWait }, async (model, loadMs) => {
        if (waitStarted !== undefined) timings.wait_for_memory_ms = Math.round(performance.now() - waitStarted - (loadMs ?? 0));
        if (loadMs !== undefined) timings.load_ms = Math.round(loadMs);
        return generateVideo(
          model,
          params,
          outputName,
          { outputsDir: config.OUTPUTS_DIR, preset: config.X264_PRESET, crf: config.X264_CRF, threads: config.FFMPEG_THREADS },
          { progress: onProgress, chunk: onChunk, preview, signal: deps.shutdown },
          timings,
          inputs,
        );
      });
      await storeOutputs(deps.store, config.OUTPUTS_DIR, jobId);
      if (streamed) await deps.store.removePartials(`${outputName}.`);
      timings.total_ms = Math.round(performance.now() - started);
      const frames = streamed ? { chunks_done: streamed.chunks_done, chunks_total: streamed.chunks_total, frames_ready: streamed.frames_ready } : {};
      await job.updateProgress({ phase: "done", step: params.steps, total: params.steps, timings, host: config.HOST_ID, ...frames, ...(previewed ? { preview: previewed } : {}) } satisfies Progress);
      return {
        video_file: outputName,
        width: params.width,
        height: params.height,
        num_frames: params.num_frames,
        fps: params.fps,
        duration_s: params.duration_s,
        bytes: video.bytes,
        sha256: video.sha256,
        ...(streamed ? { frames_ready: streamed.frames_ready } : {}),
        host: config.HOST_ID,
        timings,
      };
    } catch (err) {
      if (err instanceof WaitingError) throw err;
      // ENOSPC, EACCES, ffmpeg gone mid-job: judged by the environment as it is now, not by parsing messages.
      const cancelled = err instanceof JobFailure && err.code === "cancelled";
      const problem = cancelled ? undefined : await deps.environment.check().catch(() => undefined);
      if (problem) {
        log.warn("job back to waiting: the environment broke during it", { code: problem.code, reason: (err as Error).message });
        await backToWaiting(job, token, problem, timings, config.HOST_ID);
      }
      const failure = classifyFailure(err);
      const retried = failure.retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
      throw toQueueError(failure.code === "out_of_memory" ? await afterOutOfMemory(deps, log, failure, retried) : failure);
    } finally {
      // The job's outcome stands whatever happens here: a slot that cannot be released now expires with its lease.
      await deps.gpu.finish(host.loaded).catch((err: Error) => log.warn("could not release the GPU slot", { error: err.message }));
    }
  };
}

/**
 * A real allocation failure means the host (or this process) is short now. This worker drops its own
 * sessions whatever comes next: ONNX Runtime's arenas keep growing by the size they reached for the failed
 * request, so later runs would ask for far more than they need; a reload starts them afresh. Before a
 * retry, every idle model on the host is also asked to unload. The recorded cause says what was done.
 */
async function afterOutOfMemory(deps: ProcessorDeps, log: Logger, failure: JobFailure, retried: boolean): Promise<JobFailure> {
  const [own, asked] = await Promise.all([
    deps.host.unload("out of memory"),
    retried
      ? deps.memory.evictAllIdle().catch((err: Error) => {
          log.warn("could not ask idle models to unload", { error: err.message });
          return [];
        })
      : undefined,
  ]);
  const actions = [
    ...(own ? [`released ${deps.host.name}'s sessions`] : []),
    ...(asked === undefined ? [] : [asked.length > 0 ? `asked idle ${asked.join(", ")} to unload` : "no idle model on the host to unload"]),
  ];
  if (actions.length === 0) return failure;
  return new JobFailure(failure.code, `${failure.message} (${retried ? "before the retry: " : ""}${actions.join("; ")})`, failure.retryable);
}
