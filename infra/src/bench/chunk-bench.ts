import { execFile } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { makeTempDir } from "@videosdgx/shared/testing";
import { loadModel } from "@videosdgx/workers/runtime";
import { generateTinyMagiModel } from "@videosdgx/workers/tinymagi";
import { ffmpegCliArgs, GrowingMp4 } from "@videosdgx/workers/video";
import { percentile, round, type BenchRow } from "./stats.js";

const run = promisify(execFile);

/**
 * Chunk streaming: for each chunk of a tinymagi job, the time from its last denoising step to its frames
 * being in the growing MP4, against the ffmpeg command line encoding those same frames alone from a raw
 * file with the same settings, in the same run. As in the step bench, the model's own decode is not the
 * platform's streaming (a real VAE's is seconds and would swamp the figure): the family hands a chunk to
 * the sink once its VAE decode (MAGI's spatial tiles and blend) is done, so what is timed is from there,
 * chunk by chunk: frames to RGB, the chunk's encode and append. The decode's own time (last step to the
 * hand-over) is given beside it. The progress write that announces the chunk (one Redis command) is not included.
 */

export async function chunkBench(chunks: number): Promise<BenchRow[]> {
  const { dir, remove } = await makeTempDir("vdgx-bench-chunk");
  const model = await (async () => {
    await generateTinyMagiModel(path.join(dir, "tinymagi"));
    return loadModel(dir, "tinymagi", {});
  })();
  try {
    const settings = { width: 512, height: 512, fps: 24, preset: "veryfast", crf: 18, threads: 2 };
    const params = {
      model: "tinymagi", prompt: "a paper boat drifting down a rainy street", negative_prompt: "", ...settings,
      num_frames: 24 * chunks, duration_s: chunks, steps: 8, guidance: 7.5, seed: 1,
    };
    const video = new GrowingMp4(path.join(dir, "job.mp4"), settings);
    let lastStep = 0;
    const decodeMs: number[] = [];
    const latencyMs: number[] = [];
    const encodeMs: number[] = [];
    const raw = path.join(dir, "chunk.rgb");
    await model.pipeline.stream!(params, { stage: (_p, _k, fn) => fn(), step: async () => void (lastStep = performance.now()) }, {
      chunk: async (frames) => {
        const decoded = performance.now();
        decodeMs.push(decoded - lastStep);
        // The parts pass through as they come; kept (no copy) for the baseline.
        const kept: Uint8Array[] = [];
        const parts = async function* () {
          for await (const part of frames.parts) yield kept[kept.push(part) - 1]!;
        };
        await video.append({ count: frames.count, parts: parts() });
        latencyMs.push(performance.now() - decoded);
        // The baseline right after, on the same frames: both measured under the same load.
        await writeFile(raw, Buffer.concat(kept));
        const t = performance.now();
        await run("ffmpeg", ffmpegCliArgs(settings, raw, path.join(dir, "alone.mp4")));
        encodeMs.push(performance.now() - t);
        await rm(path.join(dir, "alone.mp4"), { force: true });
      },
    });
    await video.finish();
    // The first chunk pays one-time costs (the sessions' first runs): the median of the rest.
    const [decode, latency, encode] = [decodeMs, latencyMs, encodeMs].map((ms) => percentile(ms.slice(1), 50)) as [number, number, number];
    return [
      {
        bench: "chunk", metric: `ms from a chunk's last step to downloadable, 24 frames ${settings.width}x${settings.height}, without the VAE decode's ${round(decode, 1)} ms (3 x 3 tiles and blend; each chunk timed from its hand-over, median of ${chunks - 1})`, unit: "ms",
        platform: round(latency, 1), baseline: round(encode, 1), baseline_name: "ffmpeg CLI encoding those frames alone",
        ratio: round(encode / latency), target: ">= 0.67 (under 1.5x the encode)", pass: latency < 1.5 * encode,
      },
    ];
  } finally {
    await model.release();
    await remove();
  }
}
