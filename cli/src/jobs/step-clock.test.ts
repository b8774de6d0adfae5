import assert from "node:assert/strict";
import { test } from "node:test";
import type { Progress } from "@videosdgx/shared";
import { StepClock } from "./step-clock.js";

const at = (phase: Progress["phase"], step: number, total = 10): Progress => ({ phase, step, total, timings: {} });

test("the time left is the mean time of the steps seen so far times the steps left", () => {
  let now = 0;
  const clock = new StepClock(() => now);
  clock.see(at("loading", 0));
  assert.equal(clock.etaMs(at("loading", 0)), undefined, "no estimate before denoising");
  clock.see(at("denoising", 1));
  assert.equal(clock.etaMs(at("denoising", 1)), undefined, "one step gives no pace");
  now = 300;
  clock.see(at("denoising", 2));
  now = 400;
  clock.see(at("denoising", 2)); // the same step again (a position or chunk event) is not a new mark
  now = 900;
  clock.see(at("denoising", 4));
  // 3 steps in 900 ms since step 1: 300 ms a step, 6 steps left.
  assert.equal(clock.etaMs(at("denoising", 4)), 1800);
  assert.equal(clock.etaMs(at("decoding", 10)), undefined, "no estimate after denoising");
});
