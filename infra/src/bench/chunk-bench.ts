import { execFile } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { makeTempDir } from "@videosdgx/shared/testing";
import { ModelSession } from "@videosdgx/workers/onnx";
import { loadModel } from "@videosdgx/workers/runtime";
import { decodeMagiChunk } from "@videosdgx/workers/magi";
import { generateTinyMagiModel } from "@videosdgx/workers/tinymagi";
import { ffmpegCliArgs, GrowingMp4 } from "@videosdgx/workers/video";
import { percentile, round, type BenchRow } from "./stats.js";

const run = promisify(execFile);

/**
 * Chunk streaming: for each chunk of a tinymagi job, the time from its last denoising step to its frames
 * being in the growing MP4 (the decoder, frames to RGB, the chunk's encode and append), against the ffmpeg
 * command line encoding those same frames alone from a raw file with the same settings, in the same run.
 * As in the step bench, the model's own decode is not the platform's streaming: the VAE decode of a chunk
 * (timed on its own session, same shape, MAGI's tiles and blend) is taken out; a real VAE's decode is
 * seconds and would swamp the figure. The progress write that announces the chunk (one Redis command) is not included.
 */
/**
 * The VAE decode of one chunk's latent as the pipeline runs it, run after run: MAGI's spatial tiles (a
 * 512 px frame is 3 x 3 of them) and their blend, which upstream's TileProcessor makes part of the decode.
 */
async function decoderMs(file: string, size: { width: number; height: number }, runs: number): Promise<number[]> {
  const session = await ModelSession.open(file);
  const shape = { channels: 16, frames: 6, height: size.height / 8, width: size.width / 8, tokens: 0 };
  const latent = new Float32Array(shape.channels * shape.frames * shape.height * shape.width).fill(0.5);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await decodeMagiChunk(session, latent, shape, { ...size, frames: 24 }, 8);
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
        // The parts pass through as they come; kept (no copy) for the baseline.
        const kept: Uint8Array[] = [];
        const parts = async function* () {
          for await (const part of frames.parts) yield kept[kept.push(part) - 1]!;
        };
        await video.append({ count: frames.count, parts: parts() });
        latencyMs.push(performance.now() - lastStep);
        // The baseline right after, on the same frames: both measured under the same load.
        await writeFile(raw, Buffer.concat(kept));
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
        bench: "chunk", metric: `ms from a chunk's last step to downloadable, 24 frames ${settings.width}x${settings.height}, without the VAE decode's ${round(decode, 1)} ms (3 x 3 tiles and blend; median of ${chunks - 1})`, unit: "ms",
        platform: round(latency, 1), baseline: round(encode, 1), baseline_name: "ffmpeg CLI encoding those frames alone",
        ratio: round(encode / latency), target: ">= 0.67 (under 1.5x the encode)", pass: latency < 1.5 * encode,
      },
    ];
  } finally {
    await model.release();
    await remove();
  }
}
