import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CliExitCode, inspectModel, type Config, type Manifest } from "@videosdgx/shared";
import { CliError } from "../cli-error.js";
import { checkpointDir, exists } from "./folder.js";
import { checkModelName } from "./model-name.js";
import { checkRecordedHashes } from "./recorded-hashes.js";

export interface VerifyCheck {
  check: string;
  ok: boolean;
  detail: string;
}

export interface RunReport {
  params: { width: number; height: number; num_frames: number; fps: number; steps: number; seed: number };
  video: { codec: string; pix_fmt: string; width: number; height: number; frames: number; fps: number; duration_s: number; bytes: number };
  load_ms: number;
  generate_ms: number;
}

export interface VerifyReport {
  model: string;
  dir: string;
  /** `model`: a folder a worker serves; `checkpoint`: a pulled checkpoint, still to be exported. */
  kind: "model" | "checkpoint";
  ok: boolean;
  checks: VerifyCheck[];
  run?: RunReport;
}

/**
 * The smallest job the model accepts: first valid frame count, smallest multiple-aligned width and height,
 * and two steps, or the fewest valid ones above that (magi: a multiple of its window, `sampling.steps_multiple`).
 */
export function smallestValidParams(m: Manifest) {
  const { frames, resolution, steps } = m.constraints;
  const up = (v: number, multiple: number) => Math.ceil(v / multiple) * multiple;
  return {
    num_frames: frames.offset + frames.step * Math.max(0, Math.ceil((frames.min - frames.offset) / frames.step)),
    width: up(resolution.min_width, resolution.multiple),
    height: up(resolution.min_height, resolution.multiple),
    steps: up(Math.max(2, steps.min), m.sampling?.steps_multiple ?? 1),
  };
}

/** Loads the folder through the worker's own code (sessions, tokenizer, sampler, decoder, encoder) and makes a short video. */
async function runModel(config: Config, name: string): Promise<RunReport> {
  const { loadModel, sessionOptions, generateVideo } = await import("@videosdgx/workers/runtime");
  const { probeVideo } = await import("@videosdgx/workers/video");
  const outputsDir = await mkdtemp(path.join(tmpdir(), "vdgx-verify-"));
  const loadStarted = performance.now();
  const model = await loadModel(config.MODELS_DIR, name, sessionOptions(config));
  const loadMs = Math.round(performance.now() - loadStarted);
  try {
    const m = model.manifest;
    const size = smallestValidParams(m);
    const fps = m.constraints.fps.default;
    const params = {
      model: name, prompt: "a verification video", negative_prompt: "", ...size, fps,
      duration_s: size.num_frames / fps, guidance: m.constraints.guidance.default, seed: 42,
    };
    const started = performance.now();
    const video = await generateVideo(
      model, params, `${name}-verify.mp4`,
      { outputsDir, preset: config.X264_PRESET, crf: config.X264_CRF, threads: config.FFMPEG_THREADS },
      { progress: async () => undefined, signal: new AbortController().signal },
      {},
    );
    const generateMs = Math.round(performance.now() - started);
    const info = await probeVideo(video.file);
    return {
      params: { width: params.width, height: params.height, num_frames: params.num_frames, fps, steps: params.steps, seed: 42 },
      video: { codec: info.codec, pix_fmt: info.pixFmt, width: info.width, height: info.height, frames: info.frames, fps: info.fps, duration_s: info.durationS, bytes: video.bytes },
      load_ms: loadMs,
      generate_ms: generateMs,
    };
  } finally {
    await model.release();
    await rm(outputsDir, { recursive: true, force: true });
  }
}

/**
 * `models verify <name> [--run]`: the folder's structure against the family contract (inspectModel: files,
 * graph inputs and outputs, external data, manifest), then every recorded hash. A name with only a pulled
 * checkpoint gets its hashes checked and the advice to export it.
 */
export async function verifyModel(config: Config, name: string, opts: { run: boolean }): Promise<VerifyReport> {
  await checkModelName(config.MODELS_DIR, name);
  const state = await inspectModel(config.MODELS_DIR, name);
  const checkpoint = checkpointDir(config.MODELS_DIR, name);
  if (!state.installed && !(await exists(state.dir)) && (await exists(checkpoint))) {
    const hashes = await checkRecordedHashes(checkpoint);
    const checks: VerifyCheck[] = [
      hashes.ok
        ? { check: "hashes", ok: true, detail: `${hashes.files} files match the hashes recorded at pull` }
        : { check: "hashes", ok: false, detail: hashes.problem },
      { check: "exported", ok: false, detail: `only the pulled checkpoint is here (${checkpoint}); export it to ONNX into ${state.dir} before a worker can serve it` },
    ];
    return { model: name, dir: checkpoint, kind: "checkpoint", ok: false, checks };
  }
  const checks: VerifyCheck[] = [
    state.installed
      ? { check: "structure", ok: true, detail: "files, graph inputs and outputs, external data and manifest are as the family contract needs" }
      : { check: "structure", ok: false, detail: state.reason },
  ];
  if (await exists(state.dir)) {
    const hashes = await checkRecordedHashes(state.dir);
    checks.push(
      !hashes.ok
        ? { check: "hashes", ok: false, detail: hashes.problem }
        : hashes.from === null
          ? { check: "hashes", ok: true, detail: hashes.warning }
          : { check: "hashes", ok: true, detail: `${hashes.files} files match ${hashes.from}${hashes.at ? ` (recorded at ${hashes.at})` : ""}` },
    );
  }
  const report: VerifyReport = { model: name, dir: state.dir, kind: "model", ok: checks.every((c) => c.ok), checks };
  if (opts.run && report.ok) {
    try {
      report.run = await runModel(config, name);
      checks.push({ check: "run", ok: true, detail: `made a ${report.run.video.width}x${report.run.video.height} ${report.run.video.frames}-frame ${report.run.video.codec} video in ${report.run.params.steps} steps` });
    } catch (err) {
      checks.push({ check: "run", ok: false, detail: (err as Error).message });
      report.ok = false;
    }
  }
  return report;
}

export function verifyFailure(report: VerifyReport): CliError {
  const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.detail}`);
  return new CliError("verify_failed", `${report.model} (${report.dir}) failed verification: ${failed.join("; ")}`, CliExitCode.failed);
}
