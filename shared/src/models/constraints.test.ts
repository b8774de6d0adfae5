import assert from "node:assert/strict";
import { test } from "node:test";
import { ValidationError } from "../errors.js";
import { KNOWN_MODELS } from "./catalog.js";
import { WAN_NEGATIVE_PROMPT } from "./families/wan.js";
import { describeFrameRule, frameBounds, framesForDuration, nearestFrames, resolveJobParams } from "./constraints.js";

const ltxModel = KNOWN_MODELS.get("ltx2")!;
const wanModel = KNOWN_MODELS.get("wan21")!;
const tinyModel = KNOWN_MODELS.get("tiny")!;
const [ltx, wan, tiny] = [ltxModel.constraints, wanModel.constraints, tinyModel.constraints];

function violations(fn: () => unknown): { field: string; rule: string; nearest: number[] }[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    assert.equal(err.code, "invalid_parameters");
    return err.details as { field: string; rule: string; nearest: number[] }[];
  }
  assert.fail("expected a ValidationError");
}

test("frame rules: 8k+1 for LTX-2 and 4k+1 for Wan 2.1, with bounds", () => {
  assert.equal(describeFrameRule(ltx.frames), "8k+1 frames, 9 to 257");
  assert.deepEqual(frameBounds(wan.frames), [5, 81]);
  assert.deepEqual(nearestFrames(ltx.frames, 121), [121]);
  assert.deepEqual(nearestFrames(ltx.frames, 120), [113, 121]);
  assert.deepEqual(nearestFrames(wan.frames, 1000), [81]);
  assert.deepEqual(nearestFrames(wan.frames, 1), [5]);
});

test("a duration becomes the nearest valid frame count at the chosen fps", () => {
  assert.equal(framesForDuration(ltx.frames, 5, 24), 121); // 120 -> 8k+1 neighbours 113 and 121
  assert.equal(framesForDuration(wan.frames, 5, 16), 81); // 80 -> 81
  assert.equal(framesForDuration(tiny.frames, 1, 16), 17); // 16 -> 17 (ties go longer)
  const p = resolveJobParams(ltxModel, { model: "ltx2", prompt: "x", duration_s: 5, fps: 24, width: 1024, height: 576 });
  assert.equal(p.num_frames, 121);
  assert.equal(p.duration_s, Number((121 / 24).toFixed(6)));
});

test("defaults fill what the request leaves out, and a seed is always recorded", () => {
  const p = resolveJobParams(tinyModel, { model: "tiny", prompt: "a cat" });
  assert.equal(p.width, tiny.resolution.default_width);
  assert.equal(p.num_frames, tiny.frames.default);
  assert.equal(p.steps, tiny.steps.default);
  assert.equal(p.negative_prompt, "");
  assert.ok(Number.isInteger(p.seed) && p.seed >= 0);
  assert.equal(resolveJobParams(tinyModel, { model: "tiny", prompt: "a", seed: 42 }).seed, 42);
});

test("violations name the field, the rule and the nearest valid values, all at once", () => {
  const v = violations(() =>
    resolveJobParams(ltxModel, { model: "ltx2", prompt: "x", num_frames: 120, width: 1000, height: 576, steps: 500 }),
  );
  const byField = Object.fromEntries(v.map((x) => [x.field, x]));
  assert.deepEqual(Object.keys(byField).sort(), ["num_frames", "steps", "width"]);
  assert.deepEqual(byField.num_frames!.nearest, [113, 121]);
  assert.equal(byField.num_frames!.rule, "8k+1 frames, 9 to 257");
  assert.deepEqual(byField.width!.nearest, [992, 1024]);
  assert.deepEqual(byField.steps!.nearest, [100]);
});

test("a model whose steps come in multiples (MAGI's window) refuses others, naming the nearest", () => {
  const magi = KNOWN_MODELS.get("magi1")!;
  const [v] = violations(() => resolveJobParams(magi, { model: "magi1", prompt: "x", steps: 10 }));
  assert.deepEqual({ field: v!.field, rule: v!.rule, nearest: v!.nearest }, { field: "steps", rule: "multiple of 4, 4 to 100", nearest: [8, 12] });
  assert.equal(resolveJobParams(magi, { model: "magi1", prompt: "x", steps: 64 }).steps, 64);
});

test("a duration far outside the model's length range is refused", () => {
  const v = violations(() => resolveJobParams(wanModel, { model: "wan21", prompt: "x", duration_s: 60, fps: 16 }));
  assert.equal(v[0]!.field, "duration_s");
});

test("the negative prompt defaults to the manifest's, else to its family's (Wan: the reference pipeline's)", () => {
  assert.equal(resolveJobParams(wanModel, { model: "wan21", prompt: "x" }).negative_prompt, WAN_NEGATIVE_PROMPT);
  assert.match(WAN_NEGATIVE_PROMPT, /^Bright tones, overexposed, .* walking backwards$/);
  const own = { ...wanModel, text: { ...wanModel.text, default_negative_prompt: "blurry" } };
  assert.equal(resolveJobParams(own, { model: "wan21", prompt: "x" }).negative_prompt, "blurry");
  assert.equal(resolveJobParams(own, { model: "wan21", prompt: "x", negative_prompt: "" }).negative_prompt, "", "an explicit empty one is kept");
  assert.equal(resolveJobParams(tinyModel, { model: "tiny", prompt: "x" }).negative_prompt, "");
});

test("audio: on by default for a model with sound, off on request; asking a silent model for it names the field", () => {
  assert.equal(resolveJobParams(ltxModel, { model: "ltx2", prompt: "x" }).audio, true);
  assert.equal(resolveJobParams(ltxModel, { model: "ltx2", prompt: "x", audio: false }).audio, false);
  // A model without sound shows no audio param, and accepts being asked for none.
  assert.equal("audio" in resolveJobParams(tinyModel, { model: "tiny", prompt: "x" }), false);
  assert.equal("audio" in resolveJobParams(tinyModel, { model: "tiny", prompt: "x", audio: false }), false);
  const v = violations(() => resolveJobParams(tinyModel, { model: "tiny", prompt: "x", audio: true }));
  assert.deepEqual(v.map((x) => x.field), ["audio"]);
  assert.match((v[0] as unknown as { message: string }).message, /model tiny makes no sound/);
});

test("image: shown in params for an i2v model, required there, refused by a model without i2v", () => {
  const i2v = { ...wanModel, capabilities: { ...wanModel.capabilities, i2v: true } };
  const image = { sha256: "a".repeat(64), type: "image/png" as const, width: 640, height: 480 };
  assert.deepEqual(resolveJobParams(i2v, { model: "wan21", prompt: "x" }, undefined, image).image, { sha256: image.sha256, media_type: "image/png", width: 640, height: 480 });
  assert.deepEqual(violations(() => resolveJobParams(i2v, { model: "wan21", prompt: "x" })).map((x) => x.field), ["image"]);
  const v = violations(() => resolveJobParams(wanModel, { model: "wan21", prompt: "x" }, undefined, image));
  assert.deepEqual(v.map((x) => x.field), ["image"]);
  assert.match((v[0] as unknown as { message: string }).message, /capabilities\.i2v is false/);
  assert.equal("image" in resolveJobParams(wanModel, { model: "wan21", prompt: "x" }), false);
});
