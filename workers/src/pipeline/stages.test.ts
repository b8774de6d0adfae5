import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { Tokenizer } from "@huggingface/tokenizers";
import { ManifestSchema } from "@videosdgx/shared";
import { tinyTokenizerJson } from "../tiny/tokenizer-json.js";
import { tinyWanManifest, TINYWAN_SCHEDULER_CONFIG } from "../tinywan/generate.js";
import { cleanPrompt } from "../families/wan/prompt-clean.js";
import { schedulerForSize } from "./flow-shift.js";
import { denormaliseLatent } from "./latent-normalisation.js";
import { createSampler } from "./sampler.js";
import { parseSchedulerConfig } from "./scheduler-config.js";
import { zeroBeyondLengths } from "./text-encoding.js";
import { tokenizeToContext, truncatedIds } from "./tokenize.js";
import { roundHalfEven, videoToRgb } from "./video-frames.js";

const umt5Like = new Tokenizer(tinyTokenizerJson({ closingEos: true }), {});

test("tokenizing to a fixed context: pad ids, the mask, each prompt's length with its </s>", () => {
  const batch = tokenizeToContext(umt5Like, ["a cat", "a red dog on a beach"], 8);
  assert.deepEqual(batch.lengths, [3, 7]);
  assert.deepEqual([...batch.ids.slice(0, 8)].map(Number).slice(2), [1, 0, 0, 0, 0, 0], "</s> then pads");
  assert.deepEqual([...batch.mask].map(Number), [1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0]);
  assert.deepEqual(batch.dims, [2, 8]);
});

test("truncation keeps the closing </s>, as Hugging Face tokenizers truncate", () => {
  const ids = truncatedIds(umt5Like, "a cat walking on a beach at sunset", 4);
  assert.equal(ids.length, 4);
  assert.equal(ids[3], 1, "the last id is </s>");
  assert.deepEqual(ids.slice(0, 3), umt5Like.encode("a cat walking", { add_special_tokens: false }).ids);
  const plain = new Tokenizer(tinyTokenizerJson(), {});
  assert.deepEqual(truncatedIds(plain, "a cat walking on", 2), plain.encode("a cat").ids, "without specials: a plain cut");
});

test("text states beyond each prompt's length become zeros; the rest is unchanged", () => {
  const data = Float32Array.from({ length: 2 * 4 * 3 }, (_, i) => i + 1);
  const out = zeroBeyondLengths(new ort.Tensor("float32", data, [2, 4, 3]), [1, 3]).data as Float32Array;
  assert.deepEqual([...out.slice(0, 12)], [1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...out.slice(12)], [13, 14, 15, 16, 17, 18, 19, 20, 21, 0, 0, 0]);
});

test("denormalisation is latents / (1 / std) + mean per channel", () => {
  const shape = { channels: 2, frames: 1, height: 1, width: 2, tokens: 1 };
  const out = denormaliseLatent(Float32Array.of(1, -1, 0.5, 2), shape, { mean: Float32Array.of(0.25, -3), std: Float32Array.of(2, 0.5) });
  assert.deepEqual([...out], [2.25, -1.75, -2.75, -2]);
});

test("a [-1, 1] video becomes uint8 RGB frames as diffusers rounds it (clamped, halves to even)", () => {
  // [1, 3, F=1, H=1, W=3]: channel-major in, pixel-major out.
  const video = Float32Array.of(-1, 1, 2, /* g */ 0, -2, 1 / 255, /* b */ 0.5, -0.5, 2 / 255 - 1);
  const rgb = videoToRgb(video, { frames: 1, height: 1, width: 3 });
  // 0 -> 127.5 -> 128 (even); 1/255 -> 128.0 -> 128; 0.5 -> 191.25 -> 191; 2/255 - 1 -> 1.
  assert.deepEqual([...rgb], [0, 128, 191, 255, 0, 64, 255, 128, 1]);
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
});

test("flow_shift per size: the manifest's value for that size replaces the scheduler config's", () => {
  const config = parseSchedulerConfig(TINYWAN_SCHEDULER_CONFIG);
  const manifest = tinyWanManifest();
  const big = schedulerForSize(config, manifest, 512, 512);
  const small = schedulerForSize(config, manifest, 160, 96);
  assert.equal(big._class_name === "UniPCMultistepScheduler" && big.flow_shift, 5);
  assert.equal(small, config, "other sizes keep the folder's config");
  // The sigmas follow: shift * s / (1 + (shift - 1) * s) on the same base schedule.
  const [s5, s3] = [big, small].map((c) => createSampler(c, { steps: 4, size: 1, imageSeqLen: 1 }).sigmas) as [Float64Array, Float64Array];
  for (let i = 0; i < 4; i++) {
    const base = s3[i]! / (3 - 2 * s3[i]!);
    assert.ok(Math.abs(s5[i]! - (5 * base) / (1 + 4 * base)) < 1e-6, `sigma ${i}`);
  }
  const dynamic = parseSchedulerConfig({ _class_name: "FlowMatchEulerDiscreteScheduler", use_dynamic_shifting: true });
  assert.throws(() => schedulerForSize(dynamic, manifest, 512, 512), /cannot apply to a scheduler with use_dynamic_shifting/);
  assert.equal(schedulerForSize(dynamic, ManifestSchema.parse({ ...manifest, sampling: undefined }), 512, 512), dynamic);
});

test("prompts are cleaned as diffusers' Wan prompt_clean does", () => {
  assert.equal(cleanPrompt("  a &amp;amp; b\n\t c &#x41;  "), "a & b c A");
});
