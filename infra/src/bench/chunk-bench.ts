import { execFile } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import ort from "onnxruntime-node";
import { makeTempDir } from "@videosdgx/shared/testing";
import { loadModel } from "@videosdgx/workers/runtime";
import { generateTinyMagiModel } from "@videosdgx/workers/tinymagi";
import { ffmpegCliArgs, GrowingMp4 } from "@videosdgx/workers/video";
import { percentile, round, type BenchRow } from "./stats.js";

const run = promisify(execFile);

/**
 * Chunk streaming: for each chunk of a tinymagi job, the time from its last denoising step to its frames
 * being in the growing MP4 (the decoder, frames to RGB, the chunk's encode and append), against the ffmpeg
 * command line encoding those same frames alone from a raw file with the same settings, in the same run.
 * As in the step bench, the model's own graph time is not the platform's: the VAE decoder's run on a
 * chunk (timed on its own session, same shape) is taken out; a real VAE's decode is seconds and would
 * swamp the figure. The progress write that announces the chunk (one Redis command) is not included.
 */
/** The decoder graph's own time on one chunk's latent, run after run. */
async function decoderMs(file: string, size: { width: number; height: number }, runs: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(file);
  const dims = [1, 16, 6, size.height / 8, size.width / 8];
  const latent = new ort.Tensor("float32", new Float32Array(dims.reduce((a, b) => a * b)).fill(0.5), dims);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run({ latent_sample: latent });
    times.push(performance.now() - t);
  }
  await session.release();
  return times;
}

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
    const latencyMs: number[] = [];
    const encodeMs: number[] = [];
    const raw = path.join(dir, "chunk.rgb");
    await model.pipeline.stream!(params, { stage: (_p, _k, fn) => fn(), step: async () => void (lastStep = performance.now()) }, {
      chunk: async (frames) => {
        await video.append(frames);
        latencyMs.push(performance.now() - lastStep);
        // The baseline right after, on the same frames: both measured under the same load.
        await writeFile(raw, frames);
        const t = performance.now();
        await run("ffmpeg", ffmpegCliArgs(settings, raw, path.join(dir, "alone.mp4")));
        encodeMs.push(performance.now() - t);
        await rm(path.join(dir, "alone.mp4"), { force: true });
      },
    });
    await video.finish();
    const decodeMs = await decoderMs(path.join(dir, "tinymagi", "vae_decoder", "model.onnx"), settings, chunks);
    // The first chunk pays one-time costs (the sessions' first runs): the median of the rest.
    const decode = percentile(decodeMs.slice(1), 50);
    const [latency, encode] = [percentile(latencyMs.slice(1), 50) - decode, percentile(encodeMs.slice(1), 50)];
    return [
      {
        bench: "chunk", metric: `ms from a chunk's last step to downloadable, 24 frames ${settings.width}x${settings.height}, without the decoder's ${round(decode, 1)} ms (median of ${chunks - 1})`, unit: "ms",
        platform: round(latency, 1), baseline: round(encode, 1), baseline_name: "ffmpeg CLI encoding those frames alone",
        ratio: round(encode / latency), target: ">= 0.67 (under 1.5x the encode)", pass: latency < 1.5 * encode,
      },
    ];
  } finally {
    await model.release();
    await remove();
  }
}
