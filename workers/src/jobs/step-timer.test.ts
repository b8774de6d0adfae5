import assert from "node:assert/strict";
import { test } from "node:test";
import type { EffectiveParams, Phase } from "@videosdgx/shared";
import { generateVideo } from "../pipeline/generate-video.js";
import { generatedModelFixture } from "../runtime/model-fixture.js";
import { generateTinyModel } from "../tiny/generate.js";
import { StepTimer } from "./step-timer.js";

const fixture = generatedModelFixture("tiny", (dir) => generateTinyModel(dir));

const PARAMS: EffectiveParams = {
  model: "tiny", prompt: "a red square drifting", negative_prompt: "", width: 64, height: 64, num_frames: 5, fps: 8, duration_s: 5 / 8, steps: 4, guidance: 1, seed: 1,
};

test("a tiny job's reports give a positive mean step time once a step is done", async () => {
  const model = await fixture.load("tiny");
  const timer = new StepTimer();
  const seen: { phase: Phase; step: number; stepMs: number | undefined }[] = [];
  const progress = async (phase: Phase, step: number) => {
    if (phase === "denoising") timer.reached(step);
    seen.push({ phase, step, stepMs: timer.stepMs });
  };
  await generateVideo(model, PARAMS, "timed.mp4", { outputsDir: fixture.dir, preset: "veryfast", crf: 18, threads: 1 }, { progress, signal: new AbortController().signal }, {});
  const denoising = seen.filter((s) => s.phase === "denoising");
  assert.deepEqual(denoising.map((s) => s.step), [0, 1, 2, 3, 4], "the stage's start, then each step");
  assert.equal(denoising[0]!.stepMs, undefined, "no mean before a step is done");
  for (const s of denoising.slice(1)) assert.ok(s.stepMs !== undefined && s.stepMs > 0, `step ${s.step}: ${s.stepMs} ms a step`);
  assert.equal(seen.at(-1)!.stepMs, denoising.at(-1)!.stepMs, "later phases keep the last mean");
});

test("the same step reported again is not a new mark", () => {
  let now = 0;
  const timer = new StepTimer(() => now);
  timer.reached(0);
  now = 100;
  timer.reached(1);
  now = 250;
  timer.reached(1); // a chunk or preview announced at step 1: not a slower step
  assert.equal(timer.stepMs, 100);
  now = 300;
  timer.reached(2);
  assert.equal(timer.stepMs, 150);
});
