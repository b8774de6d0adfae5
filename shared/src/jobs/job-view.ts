import type { Job, JobState } from "bullmq";
import { JobOutputSchema, ProgressSchema, paramsOf, type JobData, type JobOutput, type Progress } from "../contracts/generate-queue.js";
import { readFailure, type FailureView } from "../contracts/job-failure.js";
import type { JobResource, JobStatus, WebhookView } from "../schemas/job-resource.js";

export type GenerationJob = Job<JobData, JobOutput>;

export const jobLinks = (id: string) => ({ self: `/v1/jobs/${id}`, video: `/v1/jobs/${id}/video` });

/** BullMQ's states folded into the five a user sees; a pending cancel shows as cancelled at once. */
export function jobStatus(state: JobState | "unknown", failedReason: string | undefined, cancelRequested: boolean): JobStatus {
  switch (state) {
    case "completed":
      return "completed";
    case "failed":
      return readFailure(failedReason).code === "cancelled" ? "cancelled" : "failed";
    case "active":
      return "running";
    default:
      return cancelRequested ? "cancelled" : "queued";
  }
}

/**
 * A job being retried shows why an earlier attempt ended: the reason its worker recorded (an
 * out-of-memory...), or, when the worker died before it could say anything (killed, by the kernel's
 * out-of-memory killer or anyone else, or crashed), that stalled-job recovery queued it again.
 */
function lastError(job: GenerationJob): { last_error?: FailureView } {
  if (job.failedReason) return { last_error: readFailure(job.failedReason) };
  if (job.stalledCounter > 0) {
    return {
      last_error: {
        code: "worker_lost",
        message: "an attempt ended with the worker process running it (killed, e.g. by the out-of-memory killer, or crashed); the job was queued again",
      },
    };
  }
  return {};
}

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : undefined);

/** The job resource of `GET /v1/jobs/:id`: one mapping, so every route (and later webhooks) shows the same. */
export function toJobResource(
  job: GenerationJob,
  state: JobState | "unknown",
  cancelRequested: boolean,
  queuePosition: number | undefined,
  webhook?: WebhookView,
): JobResource {
  const status = jobStatus(state, job.failedReason, cancelRequested);
  // Progress and result are read through their schemas: a job written by another version shows what is readable.
  const progress: Progress = ProgressSchema.safeParse(job.progress).data ?? { phase: "queued", step: 0, total: job.data.steps, timings: {} };
  const out: JobOutput | undefined = status === "completed" ? JobOutputSchema.safeParse(job.returnvalue).data : undefined;
  const failure = status === "failed" || status === "cancelled" ? readFailure(job.failedReason) : undefined;
  return {
    id: job.id!,
    model: job.data.model,
    status,
    ...(status === "queued" && queuePosition !== undefined ? { queue_position: queuePosition } : {}),
    progress,
    params: paramsOf(job.data),
    attempts: job.attemptsStarted ?? job.attemptsMade,
    created_at: iso(job.timestamp)!,
    started_at: iso(job.processedOn),
    finished_at: iso(job.finishedOn),
    timings: out?.timings ?? progress.timings,
    result: out && {
      video_url: jobLinks(job.id!).video,
      poster_url: `${jobLinks(job.id!).self}/poster.jpg`,
      width: out.width,
      height: out.height,
      num_frames: out.num_frames,
      fps: out.fps,
      duration_s: out.duration_s,
      bytes: out.bytes,
      sha256: out.sha256,
      ...(out.frames_ready === undefined ? {} : { frames_ready: out.frames_ready }),
      ...(out.host === undefined ? {} : { host: out.host }),
    },
    ...(!failure && status !== "completed" ? lastError(job) : {}),
    ...(failure
      ? { error: failure }
      : status === "cancelled"
        ? { error: { code: "cancelled", message: "cancelled by request" } }
        : {}),
    ...(webhook ? { webhook } : {}),
    links: jobLinks(job.id!),
  };
}
