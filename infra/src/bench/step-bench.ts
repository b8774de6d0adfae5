import path from "node:path";
import { Queue } from "bullmq";
import ort from "onnxruntime-node";
import { createRedis } from "@videosdgx/shared";
import { TestRedis, makeTempDir } from "@videosdgx/shared/testing";
import { DataType, GraphBuilder } from "@videosdgx/workers/onnx";
import { denoise, parseSchedulerConfig, type LatentShape } from "@videosdgx/workers/pipeline";
import { round, type BenchRow } from "./stats.js";

/** Wan 2.1 at 480p: 16 latent channels, 21 latent frames (81 frames), 60 x 104 (480 x 832 / 8). */
const WAN_480P: LatentShape = { channels: 16, frames: 21, height: 60, width: 104, tokens: 21 * 30 * 52 };
/** umT5-XXL hidden states: 512 tokens of 4096, for the unconditional and conditional prompts. */
const TEXT_DIMS = [2, 512, 4096];

/** A transformer that only scales its input: ONNX Runtime's share is then measured and subtracted. */
function scalingTransformer(): Uint8Array {
  const g = new GraphBuilder("bench_transformer");
  const x = g.input("hidden_states", DataType.FLOAT, ["batch", 16, "f", "h", "w"]);
  g.input("timestep", DataType.FLOAT, ["batch"]);
  g.input("encoder_hidden_states", DataType.FLOAT, ["batch", "seq", 4096]);
  g.output(g.op("Mul", [x, g.scalar(0.01)]), "out_hidden_states", DataType.FLOAT, ["batch", 16, "f", "h", "w"]);
  return g.build();
}

/**
 * (b) The platform's own time per denoising step (noise, batching copies, guidance and the Euler update,
 * scheduler, cancellation check and progress write to a real Redis), ONNX Runtime's time excluded,
 * against one bare copy of the batched latent as the memory-bandwidth floor measured in the same run.
 */
export async function stepBench(steps: number): Promise<BenchRow[]> {
  const { dir, remove } = await makeTempDir("vdgx-bench-step");
  const redis = await TestRedis.start(path.join(dir, "redis"));
  const connection = createRedis(redis.url, "worker");
  const queue = new Queue("bench-step", { connection, prefix: "bench" });
  const transformer = await ort.InferenceSession.create(scalingTransformer());
  try {
    const job = await queue.add("step", {});
    const text = new ort.Tensor("float32", new Float32Array(TEXT_DIMS.reduce((a, b) => a * b, 1)), TEXT_DIMS);
    const scheduler = parseSchedulerConfig({ _class_name: "FlowMatchEulerDiscreteScheduler", shift: 3.0 });
    const run = async () => {
      const started = performance.now();
      const { runtimeMs } = await denoise({
        transformer, scheduler, shape: WAN_480P, textStates: text, steps, guidance: 5, seed: 42, outputName: "out_hidden_states",
        afterStep: async (step, total) => {
          await connection.exists("bench:cancel:step");
          await job.updateProgress({ phase: "denoising", step, total, timings: {} });
        },
      });
      return (performance.now() - started - runtimeMs) / steps;
    };
    await run(); // warm-up: JIT and allocator
    const platformMs = Math.min(await run(), await run(), await run());

    const n = WAN_480P.channels * WAN_480P.frames * WAN_480P.height * WAN_480P.width;
    const src = new Float32Array(2 * n);
    const dst = new Float32Array(2 * n);
    const copies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      dst.set(src);
      copies.push(performance.now() - t);
    }
    const copyMs = Math.min(...copies);
    return [
      {
        bench: "step", metric: "platform time per denoising step, Wan 2.1 480p latent, CFG on", unit: "ms",
        platform: round(platformMs), baseline: round(copyMs), baseline_name: "one copy of the batched latent (2 x 16x21x60x104 float32)",
        ratio: round(copyMs / platformMs, 3), target: "< 20 ms per step", pass: platformMs < 20,
      },
    ];
  } finally {
    await transformer.release();
    await queue.close();
    connection.disconnect();
    await redis.kill("SIGTERM");
    await remove();
  }
}
