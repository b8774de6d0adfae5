import { CliExitCode, JobListSchema, JobResourceSchema, ModelListSchema, type JobResource, type ModelView } from "@videosdgx/shared";
import type { ApiClient } from "../api/api-client.js";
import { downloadVideo, type DownloadedVideo } from "../api/download-video.js";
import { CliError } from "../cli-error.js";
import { describeState, describeVideo, seconds } from "./job-view.js";

const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

/** The API's largest page (ListJobsQuerySchema). */
const PAGE_MAX = 200;

export interface ListOptions {
  status?: string;
  model?: string;
  limit: number;
  before?: string;
}

/** Up to `limit` jobs, newest first, read page by page through the API's `before`/`next_before`. */
export async function listJobs(api: ApiClient, o: ListOptions): Promise<{ jobs: JobResource[]; next_before?: string }> {
  const jobs: JobResource[] = [];
  let before = o.before;
  for (;;) {
    const query = new URLSearchParams({ limit: String(Math.min(PAGE_MAX, o.limit - jobs.length)) });
    if (o.status) query.set("status", o.status);
    if (o.model) query.set("model", o.model);
    if (before) query.set("before", before);
    const page = await api.json(JobListSchema, `/v1/jobs?${query}`);
    jobs.push(...page.jobs);
    before = page.next_before;
    if (before === undefined || jobs.length >= o.limit) return before === undefined ? { jobs } : { jobs, next_before: before };
  }
}

export const showJob = (api: ApiClient, id: string): Promise<JobResource> => api.json(JobResourceSchema, jobPath(id));

export const cancelJob = (api: ApiClient, id: string): Promise<JobResource> => api.json(JobResourceSchema, jobPath(id), { method: "DELETE" });

/** A completed job's video into `file` (default `<id>.mp4`); any other job is refused with where it is. */
export async function downloadJob(api: ApiClient, id: string, file: string | undefined): Promise<{ job: JobResource; video: DownloadedVideo }> {
  const job = await showJob(api, id);
  if (job.status !== "completed") {
    const why = job.error ? `: ${job.error.code}: ${job.error.message}` : "";
    throw new CliError("no_video", `job ${id} is ${describeState(job)}${why}; only a completed job has a video`, CliExitCode.failed);
  }
  return { job, video: await downloadVideo(api, job, file ?? `${job.id}.mp4`) };
}

export const listModels = async (api: ApiClient): Promise<ModelView[]> => (await api.json(ModelListSchema, "/v1/models")).models;

const oneLine = (s: string, max: number) => {
  const flat = s.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** One row of `jobs`: id, status, model, created, size and frames, the prompt's start. */
export function jobRow(j: JobResource): string {
  const state = j.status === "running" ? `running (${describeState(j)} ${j.progress.step}/${j.progress.total})` : j.status;
  return [j.id, state, j.created_at, `${j.params.width}x${j.params.height}x${j.params.num_frames}`, JSON.stringify(oneLine(j.params.prompt, 60))].join("  ");
}

/** `jobs show`: everything a person asks about one job, as lines. */
export function jobDetails(j: JobResource): string[] {
  const p = j.params;
  const t = j.timings;
  const lines = [
    `job       ${j.id}`,
    `status    ${j.status}${j.status === "running" || j.status === "queued" ? ` (${describeState(j)}, step ${j.progress.step}/${j.progress.total})` : ""}`,
    `model     ${j.model}`,
    `prompt    ${p.prompt}`,
    ...(p.negative_prompt ? [`negative  ${p.negative_prompt}`] : []),
    `params    ${p.width}x${p.height}, ${p.num_frames} frames at ${p.fps} fps (${p.duration_s} s), ${p.steps} steps, guidance ${p.guidance}, seed ${p.seed}`,
    `created   ${j.created_at}${j.started_at ? `, started ${j.started_at}` : ""}${j.finished_at ? `, finished ${j.finished_at}` : ""}`,
    `attempts  ${j.attempts}`,
  ];
  const phases = Object.entries(t).filter(([k]) => k !== "total_ms").map(([k, v]) => `${k.replace(/_ms$/, "")} ${seconds(v)}`);
  if (phases.length > 0) lines.push(`timings   ${phases.join(", ")}; total ${seconds(t.total_ms)}`);
  if (j.result) lines.push(`video     ${describeVideo(j)}, ${j.result.bytes} bytes: videosdgx jobs download ${j.id}`);
  if (j.error) lines.push(`error     ${j.error.code}: ${j.error.message}`);
  if (j.last_error) lines.push(`retrying  after ${j.last_error.code}: ${j.last_error.message}`);
  return lines;
}

/** One row of `models`: name, installed or why not, loaded, waiting jobs, live workers. */
export function modelRow(m: ModelView): string[] {
  const state = m.installed ? `installed${m.loaded ? ", loaded" : ""}` : "not installed";
  const rows = [`${m.name.padEnd(9)} ${state.padEnd(17)} ${String(m.queue_depth).padStart(3)} waiting  ${m.workers.length} worker(s)  ${m.display_name}`];
  if (m.reason) rows.push(`          ${m.reason}`);
  if (m.environment) rows.push(`          workers take no jobs: ${m.environment.message}`);
  return rows;
}
