import { InvalidArgumentError, Option, type Command } from "commander";
import { JobStatusSchema, type Config } from "@videosdgx/shared";
import { ApiClient } from "../api/api-client.js";
import { print, printJson, runCommand } from "../output.js";
import { generate, type GenerateOptions } from "./generate.js";
import { describeVideo } from "./job-view.js";
import { cancelJob, downloadJob, jobDetails, jobRow, listJobs, showJob } from "./jobs.js";

const number = (kind: "integer" | "number") => (value: string) => {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || (kind === "integer" && !Number.isInteger(n))) throw new InvalidArgumentError(`not ${kind === "integer" ? "an integer" : "a number"}`);
  return n;
};
const integer = number("integer");

function size(value: string): { width: number; height: number } {
  const m = /^(\d{1,5})x(\d{1,5})$/.exec(value);
  if (!m) throw new InvalidArgumentError('must look like "256x256" (width x height)');
  return { width: Number(m[1]), height: Number(m[2]) };
}

const jsonOption = () => new Option("--json", "print JSON for scripts (JSON lines while a job is followed)");

/** `generate` and `jobs [show|cancel|download]`: the public HTTP API at --url / VIDEOSDGX_URL, nothing else. */
export function registerJobCommands(program: Command, config: () => Config): void {
  const api = () => ApiClient.of(config());

  program
    .command("generate <prompt>")
    .description("make a video: submit the job, follow its progress, download the MP4")
    .requiredOption("-m, --model <name>", "the model (videosdgx models lists them)")
    .option("--seconds <s>", "duration in seconds (the nearest valid frame count at the fps)", number("number"))
    .option("--frames <n>", "number of frames (instead of --seconds)", integer)
    .option("--size <WxH>", "width x height, e.g. 256x256", size)
    .option("--fps <n>", "frames per second", integer)
    .option("--steps <n>", "denoising steps", integer)
    .option("--guidance <x>", "guidance scale", number("number"))
    .option("--seed <n>", "seed (default: a random one, shown in the result)", integer)
    .option("--negative-prompt <text>", "what the video should not show")
    .option("--image <file>", "a JPEG, PNG or WebP: the first frame, for an image-to-video model (scaled to cover the size, centre-cropped)")
    .option("-o, --output <file>", "where to write the MP4 (default: <job id>.mp4)")
    .option("--no-wait", "print the job id once submitted and exit")
    .addOption(jsonOption())
    .action((prompt: string, opts: Omit<GenerateOptions, "json"> & { json?: boolean }) =>
      runCommand(!!opts.json, () => generate(api(), prompt, { ...opts, json: !!opts.json })),
    );

  const jobs = program
    .command("jobs")
    .description("list jobs, newest first (a non-admin key: its own); show, cancel or download one")
    .addOption(new Option("--status <status>", "only jobs in this state").choices(JobStatusSchema.options))
    .option("--model <name>", "only this model's jobs")
    .option("--limit <n>", "how many to list", integer, 20)
    .option("--before <id>", "only jobs older than this one (the `more:` hint of a previous listing)")
    .addOption(jsonOption())
    .action((opts: { status?: string; model?: string; limit: number; before?: string; json?: boolean }) =>
      runCommand(!!opts.json, async () => {
        const page = await listJobs(api(), opts);
        if (opts.json) return printJson(page);
        if (page.jobs.length === 0) process.stderr.write("no jobs\n");
        for (const j of page.jobs) print(jobRow(j));
        if (page.next_before) {
          const filters = [opts.status && `--status ${opts.status}`, opts.model && `--model ${opts.model}`].filter(Boolean).join(" ");
          process.stderr.write(`more: videosdgx jobs ${filters ? `${filters} ` : ""}--before ${page.next_before}\n`);
        }
      }),
    );

  jobs
    .command("show <id>")
    .description("a job's status, progress, params, timings, result or error")
    .addOption(jsonOption())
    .action((id: string, opts: { json?: boolean }) =>
      runCommand(!!opts.json, async () => {
        const job = await showJob(api(), id);
        if (opts.json) return printJson(job);
        for (const line of jobDetails(job)) print(line);
      }),
    );

  jobs
    .command("cancel <id>")
    .description("cancel a queued or running job (a running one stops at its next step)")
    .addOption(jsonOption())
    .action((id: string, opts: { json?: boolean }) =>
      runCommand(!!opts.json, async () => {
        const job = await cancelJob(api(), id);
        if (opts.json) return printJson(job);
        print(`cancellation of job ${id} recorded: ${job.status === "running" ? "it is running and stops at its next step" : `it is ${job.status}`}`);
      }),
    );

  jobs
    .command("download <id>")
    .description("a completed job's MP4 (checked against its sha256, written in one rename)")
    .option("-o, --output <file>", "where to write it (default: <job id>.mp4)")
    .addOption(jsonOption())
    .action((id: string, opts: { output?: string; json?: boolean }) =>
      runCommand(!!opts.json, async () => {
        const { job, video } = await downloadJob(api(), id, opts.output);
        if (opts.json) return printJson({ id, ...video });
        print(`saved ${video.file}: ${describeVideo(job)}`);
      }),
    );
}
