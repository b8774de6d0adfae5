import assert from "node:assert/strict";
import { test } from "node:test";
import { createGenerateRequestSchema, createJobRequestSchema, generateToJobRequest } from "./job-request.js";

const schema = createJobRequestSchema(100);

test("a minimal request is valid", () => {
  assert.ok(schema.safeParse({ model: "tiny", prompt: "a cat" }).success);
});

test("wrong types, unknown fields, empty or over-long prompts and both lengths are refused", () => {
  for (const bad of [
    { model: "tiny", prompt: 5 },
    { model: "tiny", prompt: "   " },
    { model: "tiny", prompt: "x".repeat(101) },
    { model: "tiny", prompt: "a", width: "256" },
    { model: "tiny", prompt: "a", width: 1e9 },
    { model: "tiny", prompt: "a", seed: -1 },
    { model: "tiny", prompt: "a", seed: 1.5 },
    { model: "tiny", prompt: "a", steps: Number.MAX_SAFE_INTEGER },
    { model: "tiny", prompt: "a", colour: "red" },
    { model: "Tiny!", prompt: "a" },
    { model: "tiny", prompt: "a", num_frames: 17, duration_s: 1 },
    [],
    null,
  ]) {
    assert.equal(schema.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

test("the seed route's shape maps onto the general request", () => {
  const g = createGenerateRequestSchema(100).parse({
    prompt: "A cat walking on a beach at sunset", duration: 5, resolution: "1024x576", fps: 24, seed: 42,
  });
  assert.deepEqual(generateToJobRequest("ltx2", g), {
    model: "ltx2", prompt: "A cat walking on a beach at sunset", negative_prompt: undefined, fps: 24, steps: undefined,
    guidance: undefined, seed: 42, audio: undefined, webhook: undefined, width: 1024, height: 576, duration_s: 5,
  });
  assert.equal(generateToJobRequest("ltx2", createGenerateRequestSchema(100).parse({ prompt: "a", audio: false })).audio, false);
  assert.equal(createGenerateRequestSchema(100).safeParse({ prompt: "a", resolution: "1024*576" }).success, false);
});
