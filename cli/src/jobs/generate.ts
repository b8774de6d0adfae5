import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { CliExitCode, JobResourceSchema, sniffImageType, type JobResource } from "@videosdgx/shared";
import type { ApiClient } from "../api/api-client.js";
import { downloadVideo } from "../api/download-video.js";
import { followJob } from "../api/job-events.js";
import { CliError, usageError } from "../cli-error.js";
import { print, printJson } from "../output.js";
import { Interrupt } from "./interrupt.js";
import { humanJobProgress, jsonJobProgress, type JobProgress } from "./job-progress.js";
import { describeVideo, seconds } from "./job-view.js";

export interface GenerateOptions {
  model: string;
  seconds?: number;
  frames?: number;
  size?: { width: number; height: number };
  fps?: number;
  steps?: number;
  guidance?: number;
  seed?: number;
  negativePrompt?: string;
  /** An image file for an image-to-video model: the video's first frame. */
  image?: string;
  output?: string;
  wait: boolean;
  json: boolean;
}

/** The body of `POST /v1/jobs`: only what was asked; the API fills in the model's defaults and checks its rules. */
export function jobRequest(prompt: string, o: GenerateOptions): Record<string, unknown> {
  const fields = {
    model: o.model,
    prompt,
    negative_prompt: o.negativePrompt,
    duration_s: o.seconds,
    num_frames: o.frames,
    width: o.size?.width,
    height: o.size?.height,
    fps: o.fps,
    steps: o.steps,
    guidance: o.guidance,
    seed: o.seed,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/** `--image FILE` as the data URL the API takes, typed by its bytes (the API checks the type against them too). */
async function imageDataUrl(file: string): Promise<string> {
  const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw usageError(`--image ${file}: ${err.code === "ENOENT" ? "no such file" : err.code === "EISDIR" ? "is a folder" : err.message}`);
  });
  const type = sniffImageType(bytes);
  if (!type) throw usageError(`--image ${file}: not a JPEG, PNG or WebP image`);
  return `data:${type};base64,${bytes.toString("base64")}`;
}

const SUBMIT_ATTEMPTS = 3;

/**
 * Submits once, whatever happens to the connection: every attempt carries the same Idempotency-Key, so
 * a request that reached the API before the connection broke is answered with the job it made.
 */
async function submit(api: ApiClient, body: Record<string, unknown>): Promise<JobResource> {
  const key = randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.json(JobResourceSchema, "/v1/jobs", { method: "POST", body, headers: { "idempotency-key": key } });
    } catch (err) {
      if (!(err instanceof CliError && err.code === "api_unreachable") || attempt === SUBMIT_ATTEMPTS) throw err;
      await sleep(500 * attempt);
    }
  }
}

/** `videosdgx generate`: submit, follow the job's events, download its video. Returns the exit code. */
export async function generate(api: ApiClient, prompt: string, o: GenerateOptions): Promise<number> {
  const body = jobRequest(prompt, o);
  if (o.image !== undefined) body.image = await imageDataUrl(o.image);
  const job = await submit(api, body);
  const progress = o.json ? jsonJobProgress() : humanJobProgress();
  if (!o.wait) {
    if (o.json) progress.submitted(job);
    else print(job.id);
    return 0;
  }
  progress.submitted(job);
  const interrupt = new Interrupt();
  let ended: JobResource | undefined;
  try {
    ended = await followJob(api, job.id, (e) => progress.event(e), interrupt.signal);
    progress.stop();
    if (ended.status !== "completed") return reportEnd(ended, o.json);
    const video = await downloadVideo(api, ended, o.output ?? `${ended.id}.mp4`, interrupt.signal);
    if (o.json) {
      const { video_url: _url, poster_url: _poster, ...result } = ended.result!;
      printJson({ event: "result", id: ended.id, status: ended.status, file: video.file, ...result, params: ended.params, timings: ended.timings });
    } else {
      print(`saved ${video.file}: ${describeVideo(ended)}; job ${ended.id} took ${seconds(ended.timings.total_ms)}`);
    }
    return 0;
  } catch (err) {
    if (!interrupt.happened) throw err;
    interrupt.dispose();
    return interrupted(api, job.id, ended, o.json, progress);
  } finally {
    interrupt.dispose();
    progress.stop();
  }
}

/** A job that failed or was cancelled: its error's message, exit 1. */
function reportEnd(job: JobResource, json: boolean): number {
  const error = job.error ?? { code: job.status, message: `job ${job.id} was ${job.status}` };
  if (json) printJson({ event: "result", id: job.id, status: job.status, error });
  process.stderr.write(`videosdgx: job ${job.id} ${job.status}: ${error.code}: ${error.message}\n`);
  return CliExitCode.failed;
}

/** Ctrl-C: on a terminal, cancel the job if the user says so; otherwise it is left running and its id printed. */
async function interrupted(api: ApiClient, id: string, ended: JobResource | undefined, json: boolean, progress: JobProgress): Promise<number> {
  progress.stop();
  if (ended) {
    progress.note(`interrupted: job ${id} has ${ended.status}; its video: videosdgx jobs download ${id}`);
    return CliExitCode.interrupted;
  }
  if (await Interrupt.askToCancel(id)) {
    const job = await api.json(JobResourceSchema, `/v1/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });
    if (json) printJson({ event: "interrupted", id, action: "cancelled", status: job.status });
    else process.stderr.write(`cancelled job ${id}\n`);
    return CliExitCode.interrupted;
  }
  if (json) printJson({ event: "interrupted", id, action: "left_running" });
  else {
    process.stderr.write(`interrupted: job ${id} is left running (videosdgx jobs show|cancel|download ${id})\n`);
    print(id);
  }
  return CliExitCode.interrupted;
}
