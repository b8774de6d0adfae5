import { execFile } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { makeTempDir } from "@videosdgx/shared/testing";
import { encodeMp4, ffmpegCliArgs } from "@videosdgx/workers/video";
import { round, type BenchRow } from "./stats.js";

const run = promisify(execFile);

/** A moving gradient: compressible like real video, not a flat colour that x264 skips through. */
function syntheticFrames(frames: number, width: number, height: number): Uint8Array {
  const out = new Uint8Array(frames * width * height * 3);
  let i = 0;
  for (let f = 0; f < frames; f++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        out[i++] = (x + 3 * f) & 255;
        out[i++] = (y + 2 * f) & 255;
        out[i++] = ((x ^ y) + f) & 255;
      }
  return out;
}

/**
 * (c) Frames/s of the pipeline's encoder (rawvideo piped into ffmpeg through fluent-ffmpeg, atomic write,
 * sha256) against the ffmpeg command line encoding the same raw frames from a file with the same settings.
 */
export async function encodeBench(repeats: number): Promise<BenchRow[]> {
  const { dir, remove } = await makeTempDir("vdgx-bench-encode");
  try {
    const settings = { width: 832, height: 480, fps: 16, preset: "veryfast", crf: 18, threads: 2 };
    const frames = 81;
    const raw = syntheticFrames(frames, settings.width, settings.height);
    const rawFile = path.join(dir, "frames.rgb");
    await writeFile(rawFile, raw);
    const pipelineMs: number[] = [];
    const cliMs: number[] = [];
    for (let r = 0; r <= repeats; r++) {
      let t = performance.now();
      await encodeMp4(raw, { ...settings, outPath: path.join(dir, "pipeline.mp4") });
      const p = performance.now() - t;
      t = performance.now();
      await run("ffmpeg", ffmpegCliArgs(settings, rawFile, path.join(dir, "cli.mp4")));
      const c = performance.now() - t;
      if (r > 0) {
        pipelineMs.push(p);
        cliMs.push(c);
      }
      await rm(path.join(dir, "pipeline.mp4"), { force: true });
    }
    const best = (xs: number[]) => Math.min(...xs);
    const fpsPipeline = (frames / best(pipelineMs)) * 1000;
    const fpsCli = (frames / best(cliMs)) * 1000;
    return [
      {
        bench: "encode", metric: `frames/s, ${frames} frames ${settings.width}x${settings.height} (best of ${repeats})`, unit: "frames/s",
        platform: round(fpsPipeline, 1), baseline: round(fpsCli, 1), baseline_name: "ffmpeg CLI on a raw file, same settings",
        ratio: round(fpsPipeline / fpsCli), target: ">= 0.9", pass: fpsPipeline / fpsCli >= 0.9,
      },
    ];
  } finally {
    await remove();
  }
}
