import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ModelSession } from "../onnx/session-thread.js";
import { Tokenizer } from "@huggingface/tokenizers";
import { inspectModel, MAGI_CONFIG, parseMagiConfig, type EffectiveParams } from "@videosdgx/shared";
import { makeTempDir } from "@videosdgx/shared/testing";
import type { StageRun } from "../families/family.js";
import { magiPipeline, type ChunkLatents } from "../families/magi/magi-family.js";
import { loadModel, type LoadedModel } from "../runtime/loaded-model.js";
import { generateTinyMagiModel, tinyMagiManifest } from "./generate.js";
import { tinyMagiTargetFrames, type TinyMagiTarget } from "./reference.js";

let dir: string;
let remove: () => Promise<void>;
let model: LoadedModel;
before(async () => {
  ({ dir, remove } = await makeTempDir("tinymagi"));
  await generateTinyMagiModel(path.join(dir, "tinymagi"));
  model = await loadModel(dir, "tinymagi", {});
});
after(async () => {
  await model?.release();
  await remove();
});

const run: StageRun = { stage: (_phase, _key, fn) => fn(), step: async () => {} };

const PARAMS: EffectiveParams = {
  model: "tinymagi", prompt: "a paper boat drifting down a rainy street", negative_prompt: "",
  width: 64, height: 48, num_frames: 192, fps: 24, duration_s: 8, steps: 8, guidance: 7.5, seed: 11,
};

/** The guidance table's scales at a chunk's last step, worked out here from MAGI's formulas, not the pipeline's. */
function lastStepScales(steps: number, guidance: number): { prevScale: number; textScale: number } {
  const t = ((steps - 1) / steps) ** 2;
  const shifted = t / 3 / (1 + (1 / 3 - 1) * t);
  // tinymagi's table: [0.3, 0.999) has previous-chunk 1.5 and text guidance; every step of 8 or more ends there.
  assert.ok(shifted >= 0.3 && shifted < 0.999, `last step time ${shifted}`);
  return { prevScale: 1.5, textScale: guidance };
}

const targetOf = (p: EffectiveParams, extra: Partial<TinyMagiTarget> = {}) =>
  tinyMagiTargetFrames({ prompt: p.prompt, numFrames: p.num_frames, width: p.width, height: p.height, ...lastStepScales(p.steps, p.guidance), ...extra });

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

test("the generated folder is a current magi-family model with MAGI's config and chunk inputs", async () => {
  const state = await inspectModel(dir, "tinymagi");
  assert.ok(state.installed, state.installed ? "" : state.reason);
  assert.equal(state.manifest.family, "magi");
  const config = parseMagiConfig(JSON.parse(await readFile(path.join(dir, "tinymagi", MAGI_CONFIG), "utf8")), state.manifest);
  assert.equal(config.chunk_width * config.temporal_downsample_factor, 24);
  assert.equal(config.window_size, 4);
  const session = await ModelSession.open(path.join(dir, "tinymagi/transformer/model.onnx"));
  const types = Object.fromEntries([...session.inputMetadata, ...session.outputMetadata].map((m) => [m.name, m.isTensor ? m.type : "?"]));
  await session.release();
  assert.deepEqual(types, {
    hidden_states: "float16", timestep: "float32", encoder_hidden_states: "float16", encoder_attention_mask: "int64",
    caption_dropout: "bool", kv_range: "int64", slice_point: "int64", velocity: "float16",
  });
});

test("a 192-frame job is 8 chunks of 24 frames, handed over in order, and lands on the analytic target", async () => {
  const chunks: { index: number; total: number; frames: number }[] = [];
  const parts: Uint8Array[] = [];
  const frameBytes = PARAMS.width * PARAMS.height * 3;
  await model.pipeline.stream!(PARAMS, run, {
    chunk: async (frames, index, total) => {
      let bytes = 0;
      for await (const part of frames.parts) {
        parts.push(part);
        bytes += part.length;
      }
      chunks.push({ index, total, frames: frames.count });
      assert.equal(bytes, frames.count * frameBytes);
    },
  });
  assert.deepEqual(chunks, Array.from({ length: 8 }, (_, index) => ({ index, total: 8, frames: 24 })));
  const video = Buffer.concat(parts);
  // Left over: float16 at the transformer's boundary (about 1e-3 of a latent value), through tanh and rounding.
  assert.ok(maxDiff(video, targetOf(PARAMS)) <= 2, `max deviation ${maxDiff(video, targetOf(PARAMS))}`);
});

test("a frame larger than one VAE tile is decoded in MAGI's spatial tiles and lands on the same target", async () => {
  // 256 x 208 px = 32 x 26 latents: 2 x 2 tiles, blended over 64 px. tinymagi's decoder is local, so two tiles
  // agree where they overlap and the frame is the whole-frame decode: a misplaced tile or a lost band shows.
  const params = { ...PARAMS, width: 256, height: 208, num_frames: 24, duration_s: 1 };
  const video = await model.pipeline.render(params, run);
  assert.ok(maxDiff(video, targetOf(params)) <= 2, `max deviation ${maxDiff(video, targetOf(params))}`);
});

test("each chunk is conditioned on the previous one, and on the prompt", async () => {
  const video = await model.pipeline.render(PARAMS, run);
  const unconditioned = targetOf(PARAMS, { withPrevious: false });
  const frame = PARAMS.width * PARAMS.height * 3;
  // The first chunk has no predecessor: the same either way. Every later one differs.
  assert.ok(maxDiff(video.subarray(0, 24 * frame), unconditioned.subarray(0, 24 * frame)) <= 2);
  assert.ok(maxDiff(video.subarray(24 * frame), unconditioned.subarray(24 * frame)) > 20);
  const other = await model.pipeline.render({ ...PARAMS, prompt: "a lighthouse in a storm" }, run);
  assert.ok(maxDiff(video, other) > 20);
});

test("memory per chunk is constant: after 8 chunks the pipeline holds no more than after its second", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const folder = path.join(dir, "tinymagi");
  const manifest = tinyMagiManifest();
  const config = parseMagiConfig(JSON.parse(await readFile(path.join(folder, MAGI_CONFIG), "utf8")), manifest);
  const open = (c: string) => ModelSession.open(path.join(folder, c, "model.onnx"));
  const sessions = {
    tokenizer: new Tokenizer(JSON.parse(await readFile(path.join(folder, "tokenizer/tokenizer.json"), "utf8")), {}),
    textEncoder: await open("text_encoder"), transformer: await open("transformer"), vaeDecoder: await open("vae_decoder"),
  };
  const seen: { latentBytes: number; arrayBuffers: number; rss: number }[] = [];
  const probe = async (latents: ChunkLatents) => {
    // Freed array buffers are swept after a collection, concurrently: collected, given time, collected again.
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
    const usage = process.memoryUsage();
    seen.push({ latentBytes: latents.bytes, arrayBuffers: usage.arrayBuffers, rss: usage.rss });
  };
  // Large frames, so that keeping one chunk's frames (1.8 MB) or its float video (7 MB) would show.
  const params = { ...PARAMS, width: 160, height: 160 };
  await magiPipeline(manifest, config, sessions, probe).stream!(params, run, { chunk: async () => {} });
  await Promise.all([sessions.textEncoder, sessions.transformer, sessions.vaeDecoder].map((s) => s.release()));
  assert.equal(seen.length, 8);
  const [second, last] = [seen[1]!, seen[7]!];
  // The latents held are exactly the window's: the same bytes at the end as after the second chunk.
  assert.ok(last.latentBytes <= second.latentBytes, `latents ${second.latentBytes} -> ${last.latentBytes}`);
  // Margins: 1 MB of typed arrays (less than one chunk's frames), 32 MB of RSS (allocator and arena noise).
  assert.ok(last.arrayBuffers <= second.arrayBuffers + (1 << 20), `array buffers ${second.arrayBuffers} -> ${last.arrayBuffers}`);
  assert.ok(last.rss <= second.rss + 32 * (1 << 20), `rss ${second.rss} -> ${last.rss}`);
});

test("a magi folder whose config the pipeline cannot run is not installed, the reason naming the field", async () => {
  const broken = path.join(dir, "distilled");
  await generateTinyMagiModel(broken, { name: "distilled" });
  const file = path.join(broken, MAGI_CONFIG);
  const config = JSON.parse(await readFile(file, "utf8"));
  config.runtime_config.cfg_number = 1;
  await writeFile(file, JSON.stringify(config));
  const state = await inspectModel(dir, "distilled");
  assert.ok(!state.installed);
  assert.match(state.reason, /transformer\/magi_config\.json: runtime_config\.cfg_number must be 3 .*distilled cfg_number 1 is not supported/);
});
