import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import ort from "onnxruntime-node";
import { Tokenizer } from "@huggingface/tokenizers";
import { inspectModel } from "@videosdgx/shared";
import { makeTempDir } from "@videosdgx/shared/testing";
import { generateTinyModel, isTinyModelCurrent } from "./generate.js";
import { tinyConditioning, tinyTargetFrames } from "./reference.js";
import { EMBED_DIM } from "./spec.js";

let dir: string;
let remove: () => Promise<void>;
const sessions: Record<string, ort.InferenceSession> = {};
before(async () => {
  ({ dir, remove } = await makeTempDir("tiny"));
  await generateTinyModel(path.join(dir, "tiny"));
  for (const c of ["text_encoder", "transformer", "vae_decoder"]) {
    sessions[c] = await ort.InferenceSession.create(path.join(dir, "tiny", c, "model.onnx"));
  }
});
after(async () => {
  await Promise.all(Object.values(sessions).map((s) => s.release()));
  await remove();
});

const PROMPT = "A cat walking on a beach at sunset";

test("the generated folder is a complete, current model", async () => {
  const state = await inspectModel(dir, "tiny");
  assert.ok(state.installed, state.installed ? "" : state.reason);
  assert.ok(await isTinyModelCurrent(path.join(dir, "tiny")));
  assert.equal(await isTinyModelCurrent(path.join(dir, "nothing")), false);
});

test("the tokenizer loads with @huggingface/tokenizers; known words are single tokens", async () => {
  const json = JSON.parse(await readFile(path.join(dir, "tiny/tokenizer/tokenizer.json"), "utf8"));
  const tok = new Tokenizer(json, {});
  const encoded = tok.encode(PROMPT);
  assert.deepEqual(encoded.tokens, ["▁a", "▁cat", "▁walking", "▁on", "▁a", "▁beach", "▁at", "▁sunset"]);
  assert.equal(tok.token_to_id("<pad>"), 0);
  assert.ok(tok.encode("zebra").ids.length > 1, "unknown words are spelled out");
});

async function encodeText(prompt: string): Promise<ort.Tensor> {
  const tok = new Tokenizer(JSON.parse(await readFile(path.join(dir, "tiny/tokenizer/tokenizer.json"), "utf8")), {});
  const ids: number[] = tok.encode(prompt).ids;
  const L = 32;
  const idT = new BigInt64Array(L);
  const mask = new BigInt64Array(L);
  ids.forEach((id: number, i: number) => {
    idT[i] = BigInt(id);
    mask[i] = 1n;
  });
  const out = await sessions.text_encoder!.run({
    input_ids: new ort.Tensor("int64", idT, [1, L]),
    attention_mask: new ort.Tensor("int64", mask, [1, L]),
  });
  assert.deepEqual(out.last_hidden_state!.dims, [1, L, EMBED_DIM]);
  return out.last_hidden_state!;
}

/** The target latent from the decoder's point of view: velocities at sigma 1 from x = 0 give -x0. */
async function targetLatent(text: ort.Tensor, dims: number[]): Promise<Float32Array> {
  const zeros = new Float32Array(dims.reduce((a, b) => a * b, 1));
  const out = await sessions.transformer!.run({
    hidden_states: new ort.Tensor("float32", zeros, dims),
    timestep: new ort.Tensor("float32", Float32Array.of(1000), [1]),
    encoder_hidden_states: text,
  });
  return (out.out_hidden_states!.data as Float32Array).map((v) => -v);
}

test("the transformer gives the exact velocity (x - x0) / sigma", async () => {
  const text = await encodeText(PROMPT);
  const dims = [1, 4, 3, 4, 5];
  const x0 = await targetLatent(text, dims);
  const x = Float32Array.from({ length: x0.length }, (_, i) => Math.sin(i * 1.7));
  const out = await sessions.transformer!.run({
    hidden_states: new ort.Tensor("float32", x, dims),
    timestep: new ort.Tensor("float32", Float32Array.of(700), [1]),
    encoder_hidden_states: text,
  });
  const v = out.out_hidden_states!.data as Float32Array;
  for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i]! - (x[i]! - x0[i]!) / 0.7) < 1e-4, `element ${i}`);
  // x0 follows the spec's formula: channel 3 is 0.5 c7 everywhere.
  const c = tinyConditioning(PROMPT);
  const plane = 3 * 4 * 5;
  for (let i = 0; i < plane; i++) assert.ok(Math.abs(x0[3 * plane + i]! - 0.5 * c[7]!) < 1e-5);
});

test("Euler sampling with the transformer's velocities, decoded, gives the reference frames", async () => {
  const [F, H, W] = [17, 48, 64];
  const dims = [1, 4, (F - 1) / 4 + 1, H / 8, W / 8];
  const text = await encodeText(PROMPT);
  const n = dims.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 12.9898) * 1.3);
  const sigmas = [1, 0.8, 0.5, 0.2, 0];
  for (let s = 0; s < sigmas.length - 1; s++) {
    const out = await sessions.transformer!.run({
      hidden_states: new ort.Tensor("float32", x, dims),
      timestep: new ort.Tensor("float32", Float32Array.of(sigmas[s]! * 1000), [1]),
      encoder_hidden_states: text,
    });
    const v = out.out_hidden_states!.data as Float32Array;
    for (let i = 0; i < n; i++) x[i] = x[i]! + (sigmas[s + 1]! - sigmas[s]!) * v[i]!;
  }
  const decoded = await sessions.vae_decoder!.run({ latent_sample: new ort.Tensor("float32", x, dims) });
  assert.deepEqual(decoded.sample!.dims, [F, H, W, 3]);
  assert.equal(decoded.sample!.type, "uint8");
  const frames = decoded.sample!.data as Uint8Array;
  const expected = tinyTargetFrames(PROMPT, F, W, H);
  let worst = 0;
  for (let i = 0; i < frames.length; i++) worst = Math.max(worst, Math.abs(frames[i]! - expected[i]!));
  assert.ok(worst <= 1, `largest difference ${worst} levels`);
  const [lo, hi] = expected.reduce(([l, h], p) => [Math.min(l, p), Math.max(h, p)], [255, 0]);
  assert.ok(hi - lo > 40, `the target has visible structure (range ${lo}..${hi})`);
  assert.ok(hi < 255 && lo > 0, "no clipping");
});

test("different prompts give different targets, and motion over time", () => {
  const a = tinyTargetFrames("a red cat", 9, 32, 32);
  const b = tinyTargetFrames("a blue ocean at night", 9, 32, 32);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff += Math.abs(a[i]! - b[i]!);
  assert.ok(diff / a.length > 5, `mean difference ${diff / a.length}`);
  const frame = 32 * 32 * 3;
  let motion = 0;
  for (let i = 0; i < frame; i++) motion += Math.abs(a[i]! - a[8 * frame + i]!);
  assert.ok(motion / frame > 1, "first and last frames differ");
});
