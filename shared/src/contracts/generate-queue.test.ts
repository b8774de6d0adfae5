import assert from "node:assert/strict";
import { test } from "node:test";
import { ProgressSchema, timeLeftMs, type Progress } from "./generate-queue.js";

const at = (phase: Progress["phase"], step: number, stepMs?: number): Progress => ({ phase, step, total: 10, timings: {}, ...(stepMs === undefined ? {} : { step_ms: stepMs }) });

test("the time left is the worker's mean step time times the steps left, while denoising only", () => {
  assert.equal(timeLeftMs(at("denoising", 1)), undefined, "no estimate before the worker has a step time");
  assert.equal(timeLeftMs(at("denoising", 4, 300)), 1800);
  assert.equal(timeLeftMs(at("decoding", 10, 300)), undefined, "no estimate after denoising");
  assert.equal(ProgressSchema.safeParse(at("denoising", 2, 0)).success, false, "a step time is positive");
});
