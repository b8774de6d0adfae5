import { z } from "zod";
import { WebhookSubscriptionSchema } from "../webhooks/subscription.js";
import type { QueueContract } from "./queue-contract.js";

/*
 * The generation queues' contract: one BullMQ queue per model, one job name, and the schemas of a job's
 * data, progress and result. The API adds jobs and reads them through it; a model's worker runs them.
 */

/** One BullMQ queue per model; workers for a model listen on exactly this queue. */
const QUEUE_NAME_PREFIX = "generate-";
export const queueName = (model: string): string => `${QUEUE_NAME_PREFIX}${model}`;

/** The model a generation queue's name is for; undefined for another queue's name. */
export const modelOfQueue = (queue: string): string | undefined =>
  queue.startsWith(QUEUE_NAME_PREFIX) ? queue.slice(QUEUE_NAME_PREFIX.length) : undefined;

export const GENERATE_JOB = "generate";

export const PhaseSchema = z.enum([
  "queued", "waiting_for_environment", "waiting_for_gpu", "waiting_for_memory", "loading", "encoding_text", "encoding_image", "denoising", "decoding", "encoding_video", "done",
]);
export type Phase = z.infer<typeof PhaseSchema>;

/** Milliseconds per phase; a phase absent from the object did not run (e.g. no load when the model was warm). */
export const TimingsSchema = z
  .object({
    wait_for_gpu_ms: z.number().optional(),
    wait_for_memory_ms: z.number().optional(),
    load_ms: z.number().optional(),
    encode_text_ms: z.number().optional(),
    /** Image to video: decoding the image, the image encoder and the VAE encoder. */
    encode_image_ms: z.number().optional(),
    denoise_ms: z.number().optional(),
    decode_ms: z.number().optional(),
    encode_video_ms: z.number().optional(),
    total_ms: z.number().optional(),
  });
export type Timings = z.infer<typeof TimingsSchema>;

/** Why a job waits before loading its model: the host's memory as the worker last saw it. */
export const MemoryWaitSchema = z.object({
  /** The host whose memory the job waits for (its worker's HOST_ID). */
  host: z.string(),
  available_bytes: z.number(),
  needed_bytes: z.number(),
  held_by_others_bytes: z.number(),
  budget_bytes: z.number(),
  message: z.string(),
});
export type MemoryWait = z.infer<typeof MemoryWaitSchema>;

/**
 * Why a worker takes no jobs: its host cannot run one to the end (ffmpeg or its encoder missing, the
 * outputs folder unwritable or full). Jobs wait, their attempts untouched, until it is fixed.
 */
export const EnvironmentProblemSchema = z.object({
  code: z.enum(["ffmpeg_missing", "ffmpeg_encoder_missing", "outputs_not_writable", "disk_full", "store_unreachable", "store_refused", "store_missing_bucket"]),
  message: z.string(),
});
export type EnvironmentProblem = z.infer<typeof EnvironmentProblemSchema>;

/** What the worker reports through BullMQ's job progress after every step. */
export const ProgressSchema = z.object({
  phase: PhaseSchema,
  step: z.number().int(),
  total: z.number().int(),
  timings: TimingsSchema,
  memory: MemoryWaitSchema.optional(),
  /** Present with phase waiting_for_environment. */
  environment: EnvironmentProblemSchema.optional(),
  /** Chunk-wise models (family magi): chunks whose frames are in the growing video, of all the job's. */
  chunks_done: z.number().int().optional(),
  chunks_total: z.number().int().optional(),
  /** Frames a download of the running job's video holds now. */
  frames_ready: z.number().int().optional(),
  /** The growing fragmented MP4 (in OUTPUTS_DIR, or as part objects under its name in the output store) and how many of its bytes are a playable file. */
  partial_video: z.object({ file: z.string(), bytes: z.number().int() }).optional(),
  /** The host (HOST_ID) whose worker is running the job. */
  host: z.string().optional(),
  /** Set on the report that announces chunk `chunk` (0-based) downloadable: sent as a `chunk` event. */
  chunk: z.number().int().optional(),
  /** The latest preview of the job's x0 estimate (PREVIEW_EVERY_STEPS): the step it shows and where to get it. */
  preview: z.object({ step: z.number().int(), url: z.string() }).optional(),
  /** Set on the report that announces a new preview: sent as a `preview` event. */
  new_preview: z.literal(true).optional(),
  /**
   * The worker's mean wall time per denoising step in this attempt so far (ms), from its first step on:
   * present once a second step is done. Measured where the steps run, so it holds across reloads and reconnects.
   */
  step_ms: z.number().positive().optional(),
});
export type Progress = z.infer<typeof ProgressSchema>;

/** Time left in ms while denoising: the worker's mean step time times the steps left; undefined before it has one. */
export function timeLeftMs(p: Progress): number | undefined {
  return p.phase === "denoising" && p.step_ms !== undefined ? Math.max(0, p.total - p.step) * p.step_ms : undefined;
}

/** The parameters a job really runs with, after defaults and per-model rules. Stored as the job's data. */
export const EffectiveParamsSchema = z
  .object({
    model: z.string(),
    prompt: z.string(),
    negative_prompt: z.string(),
    width: z.number().int(),
    height: z.number().int(),
    num_frames: z.number().int(),
    fps: z.number().int(),
    duration_s: z.number(),
    steps: z.number().int(),
    guidance: z.number(),
    seed: z.number().int(),
    /** Whether the video gets its sound track: present only for models with sound (capabilities.audio). */
    audio: z.boolean().optional(),
    /** The conditioning image of an image-to-video job (capabilities.i2v), as the API checked it. */
    image: z
      .object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), media_type: z.string(), width: z.number().int(), height: z.number().int() })
      .optional(),
  });
export type EffectiveParams = z.infer<typeof EffectiveParamsSchema>;

/** A job's BullMQ data: its params, plus fields kept beside them that are never shown as `params`. */
export const JobDataSchema = EffectiveParamsSchema.extend({
  /** Who is told about the job. */
  webhook: WebhookSubscriptionSchema.optional(),
  /** Where the image's bytes are kept (the input store's key); the worker checks them against params.image.sha256. */
  image_key: z.string().optional(),
  /** Id of the API key that submitted the job; absent for anonymous (loopback, no keys) submissions. */
  owner: z.string().optional(),
});
export type JobData = z.infer<typeof JobDataSchema>;

const PARAM_FIELDS = Object.keys(EffectiveParamsSchema.shape) as (keyof EffectiveParams)[];

/** The params of a job's data, without the fields stored beside them. */
export function paramsOf(data: JobData): EffectiveParams {
  return Object.fromEntries(PARAM_FIELDS.map((k) => [k, data[k]])) as EffectiveParams;
}

/** What a worker returns when a job completes (BullMQ's returnvalue). */
export const JobOutputSchema = z.object({
  video_file: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  num_frames: z.number().int(),
  fps: z.number(),
  duration_s: z.number(),
  bytes: z.number().int(),
  sha256: z.string(),
  /** Frames in the video (chunk-wise models report it while running too, in progress). */
  frames_ready: z.number().int().optional(),
  /** The host (HOST_ID) whose worker made the video. */
  host: z.string().optional(),
  timings: TimingsSchema,
});
export type JobOutput = z.infer<typeof JobOutputSchema>;

/** The poster image written beside a job's video (`<id>.mp4` -> `<id>.jpg`): one name for the worker and the API. */
export const posterFileOf = (videoFile: string): string => `${videoFile.replace(/\.mp4$/, "")}.jpg`;

/** The latest preview JPEG of a running job, in OUTPUTS_DIR: one name for the worker and the API. */
export const previewFileOf = (jobId: string): string => `${jobId}.preview.jpg`;

/** Where the API serves it. */
export const previewUrlOf = (jobId: string): string => `/v1/jobs/${jobId}/preview.jpg`;

export const generateQueue: QueueContract<JobData, JobOutput, typeof GENERATE_JOB> = {
  kind: "generation",
  jobNames: [GENERATE_JOB],
  data: JobDataSchema,
  result: JobOutputSchema,
};
