import assert from "node:assert/strict";
import { test } from "node:test";
import { gaussianNoise } from "./noise.js";
import { createSampler } from "./sampler.js";
import { parseSchedulerConfig } from "./scheduler-config.js";

const wan = (change: object = {}) =>
  parseSchedulerConfig({
    _class_name: "UniPCMultistepScheduler",
    prediction_type: "flow_prediction",
    use_flow_sigmas: true,
    flow_shift: 3,
    solver_order: 2,
    ...change,
  });

const run = (steps: number, size: number, change: object = {}) => createSampler(wan(change), { steps, size, imageSeqLen: 0 });

test("with the exact velocity every order follows the flow exactly: x = (1 - sigma) x0 + sigma noise", () => {
  const n = 1000;
  const x0 = gaussianNoise(n, 1);
  const noise = gaussianNoise(n, 2);
  for (const change of [{ solver_order: 1 }, {}, { solver_order: 3 }, { solver_type: "bh1", final_sigmas_type: "sigma_min" }]) {
    const sampler = run(9, n, change);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = (1 - sampler.sigmas[0]!) * x0[i]! + sampler.sigmas[0]! * noise[i]!;
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = noise[i]! - x0[i]!;
    for (let k = 0; k < 9; k++) {
      sampler.step(k, x, { v });
      const s = sampler.sigmas[k + 1]!;
      for (let i = 0; i < n; i += 97) {
        const want = (1 - s) * x0[i]! + s * noise[i]!;
        assert.ok(Math.abs(x[i]! - want) < 2e-5, `${JSON.stringify(change)} step ${k} [${i}]: ${x[i]} != ${want}`);
      }
    }
  }
});

test("the guided step equals one with the combined velocity, and the mirror gets the new latent", () => {
  const n = 500;
  const u = gaussianNoise(n, 3);
  const c = gaussianNoise(n, 4);
  const g = 5;
  const combined = u.map((ui, i) => ui + g * (c[i]! - ui));
  const a = run(6, n);
  const b = run(6, n);
  const xa = gaussianNoise(n, 5);
  const xb = xa.slice();
  const mirror = new Float32Array(n);
  for (let k = 0; k < 6; k++) {
    a.step(k, xa, { uncond: u, cond: c, guidance: g }, mirror);
    b.step(k, xb, { v: combined });
    assert.deepEqual(mirror, xa);
  }
  for (let i = 0; i < n; i++) assert.ok(Math.abs(xa[i]! - xb[i]!) < 1e-5, `[${i}] ${xa[i]} != ${xb[i]}`);
});

test("each run has its own multistep state: a second sampler (on the first's memory) repeats it; steps come in order", () => {
  const n = 64;
  const v = gaussianNoise(n, 6);
  const finals = [0, 1].map(() => {
    const s = run(5, n);
    const x = gaussianNoise(n, 7);
    for (let k = 0; k < 5; k++) s.step(k, x, { v });
    return x;
  });
  assert.deepEqual(finals[0], finals[1]);
  const s = run(5, n);
  s.step(0, new Float32Array(n), { v });
  assert.throws(() => s.step(2, new Float32Array(n), { v }), /expected step 1 of 5, got 2/);
  assert.throws(() => s.step(1, new Float32Array(n + 1), { v }), RangeError);
  const done = run(1, n);
  done.step(0, new Float32Array(n), { v });
  assert.throws(() => done.step(1, new Float32Array(n), { v }), /expected step 1 of 1, got 1/, "no step after the last");
});

test("a run closed early gives its memory to the next run, and closing a finished run takes nothing from a running one", () => {
  const n = 64;
  const v = gaussianNoise(n, 6);
  const whole = (s = run(5, n), from = 0, x = gaussianNoise(n, 7)) => {
    for (let k = from; k < 5; k++) s.step(k, x, { v });
    return x;
  };
  const want = whole();
  // Cancelled after two steps: the next run starts clean on that memory.
  const early = run(5, n);
  const x = gaussianNoise(n, 7);
  early.step(0, x, { v });
  early.step(1, x, { v });
  early.close!();
  assert.deepEqual(whole(), want);
  // A finished run's memory is already the spare: once a new run holds it, the old run's close must not free it.
  const finished = run(5, n);
  whole(finished);
  const running = run(5, n);
  const y = gaussianNoise(n, 7);
  running.step(0, y, { v });
  finished.close!();
  const third = run(5, n);
  third.step(0, gaussianNoise(n, 9), { v: gaussianNoise(n, 10) }); // would take and reset `running`'s memory
  assert.deepEqual(whole(running, 1, y), want);
});

test("the sampler keeps the latent between steps, and refuses a latent changed behind its back", () => {
  const n = 4096;
  const v = gaussianNoise(n, 6);
  const s = run(5, n);
  const x = gaussianNoise(n, 7);
  s.step(0, x, { v });
  // What step 0 left, in another buffer: fine.
  const moved = x.slice();
  s.step(1, moved, { v });
  moved[0] = moved[0]! + 1;
  assert.throws(() => s.step(2, moved, { v }), /the latent changed between sampler steps \(value 0: /);
});

test("the corrector is what disable_corrector turns off", () => {
  const n = 64;
  const finals = [{}, { disable_corrector: [0, 1, 2, 3] }].map((change) => {
    const s = run(5, n, change);
    const x = gaussianNoise(n, 8);
    for (let k = 0; k < 5; k++) s.step(k, x, { v: x.map((xi, i) => 0.3 * xi - Math.cos(0.1 * i + k)) });
    return x;
  });
  assert.notDeepEqual(finals[0], finals[1]);
});

test("a latent that is not whole 4-float lanes is sampled as the same values in a longer one", () => {
  // The SIMD kernel pads each buffer to 4 floats: the padding must neither leak in nor be read back.
  const long = 12;
  const x = gaussianNoise(long, 5);
  const uncond = gaussianNoise(long, 6);
  const cond = gaussianNoise(long, 7);
  for (const size of [1, 7, 9, 11]) {
    const a = run(6, long);
    const b = run(6, size);
    const xa = x.slice();
    const xb = x.slice(0, size);
    const mirror = new Float32Array(size).fill(NaN);
    for (let k = 0; k < 6; k++) {
      a.step(k, xa, { uncond, cond, guidance: 4 });
      b.step(k, xb, { uncond: uncond.subarray(0, size), cond: cond.subarray(0, size), guidance: 4 }, mirror);
    }
    assert.deepEqual(Array.from(xb), Array.from(xa.subarray(0, size)), `size ${size}`);
    assert.deepEqual(Array.from(mirror), Array.from(xb), `size ${size}: the mirror`);
  }
});
