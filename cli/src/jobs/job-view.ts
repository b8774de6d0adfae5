import type { JobResource, Progress } from "@videosdgx/shared";

const PHASES: Record<Progress["phase"], string> = {
  queued: "queued",
  waiting_for_environment: "waiting: the host cannot run jobs now",
  waiting_for_gpu: "waiting for the GPU",
  waiting_for_memory: "waiting for memory",
  loading: "loading the model",
  encoding_text: "encoding the prompt",
  encoding_image: "encoding the image",
  denoising: "denoising",
  decoding: "decoding frames",
  encoding_video: "encoding the video",
  done: "done",
};

/** Where the job is, in words: its queue position while queued, else its phase (and why it waits). */
export function describeState(job: JobResource): string {
  if (job.status === "queued") {
    const ahead = job.queue_position;
    return ahead === undefined ? "queued" : ahead === 0 ? "queued, next to start" : `queued, ${ahead} job${ahead === 1 ? "" : "s"} ahead`;
  }
  if (job.status !== "running") return job.status;
  const p = job.progress;
  const why = p.memory?.message ?? p.environment?.message;
  return `${PHASES[p.phase]}${why ? ` (${why})` : ""}`;
}

export const seconds = (ms: number | undefined): string => (ms === undefined ? "-" : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** The finished video in one line: size, frames, fps, duration, seed. */
export function describeVideo(job: JobResource): string {
  const r = job.result;
  if (!r) return "no video";
  return `${r.width}x${r.height}, ${r.num_frames} frames at ${r.fps} fps (${r.duration_s.toFixed(2)} s), seed ${job.params.seed}`;
}
