import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import ort from "onnxruntime-node";
import { makeTempDir } from "@videosdgx/shared/testing";
import { generateTinyModel } from "./generate.js";
import { CHANNELS, EMBED_DIM } from "./spec.js";

// The memory tests' copies of the tiny model hold weights and allocate scratch that must change nothing.
let dir: string;
let remove: () => Promise<void>;
before(async () => {
  ({ dir, remove } = await makeTempDir("tiny-memory"));
  await generateTinyModel(path.join(dir, "plain"));
  await generateTinyModel(path.join(dir, "heavy"), { name: "heavy", ballast: [{ bytes: 2_000_000, chunkBytes: 300_000 }, { bytes: 500_000, chunkBytes: 500_000 }], scratchBytesPerFrame: 1_000_000 });
});
after(() => remove());

async function run(model: string, component: string, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path.join(dir, model, component, "model.onnx"), { graphOptimizationLevel: "all" });
  try {
    return Object.values(await session.run(feeds))[0]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

test("ballast weights are really in the graph and leave the text encoder's output unchanged", async () => {
  const size = async (m: string) => (await stat(path.join(dir, m, "text_encoder/model.onnx"))).size;
  assert.ok((await size("heavy")) - (await size("plain")) >= 2_500_000);
  const feeds = () => ({
    input_ids: new ort.Tensor("int64", BigInt64Array.from([5n, 9n, 0n]), [1, 3]),
    attention_mask: new ort.Tensor("int64", BigInt64Array.from([1n, 1n, 0n]), [1, 3]),
  });
  const [plain, heavy] = [await run("plain", "text_encoder", feeds()), await run("heavy", "text_encoder", feeds())];
  assert.equal(plain.length, 3 * EMBED_DIM);
  // Equal as numbers: the added zero turns the masked positions' -0 into 0.
  assert.ok(heavy.every((v, i) => v === plain[i]), `${heavy} vs ${plain}`);
});

test("the scratch tensor leaves the transformer's output unchanged", async () => {
  const [F, H, W] = [3, 2, 2];
  const latent = Float32Array.from({ length: CHANNELS * F * H * W }, (_, i) => Math.sin(i));
  const feeds = () => ({
    hidden_states: new ort.Tensor("float32", latent, [1, CHANNELS, F, H, W]),
    timestep: new ort.Tensor("float32", Float32Array.of(500), [1]),
    encoder_hidden_states: new ort.Tensor("float32", new Float32Array(2 * EMBED_DIM).fill(0.1), [1, 2, EMBED_DIM]),
  });
  const [plain, heavy] = [await run("plain", "transformer", feeds()), await run("heavy", "transformer", feeds())];
  assert.equal(plain.length, latent.length);
  assert.ok(heavy.every((v, i) => v === plain[i]), `${heavy} vs ${plain}`);
});
