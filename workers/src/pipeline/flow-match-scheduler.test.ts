import { test } from "node:test";
import assert from "node:assert/strict";
import { calculateShift, eulerStep, flowMatchSigmas, guidedEulerStep } from "./flow-match-scheduler.js";
import { gaussianNoise } from "./noise.js";
import { flowMatchConfigSchema } from "./flow-match-config.js";

const flowMatchConfig = (raw: unknown) => flowMatchConfigSchema.parse(raw);

const F32_TOL = 1e-6;

function assertClose(actual: ArrayLike<number>, expected: number[], tol = F32_TOL): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `[${i}] ${actual[i]} != ${expected[i]}`);
  }
}

/** Independent restatement of diffusers' static path: init shift of sigma_min, linspace, shift again. */
function expectedStatic(shift: number, steps: number, n = 1000): number[] {
  const shiftOf = (t: number) => (shift * t) / (1 + (shift - 1) * t);
  const sigmaMin = shiftOf(1 / n);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push(shiftOf(steps === 1 ? 1 : 1 + ((sigmaMin - 1) * i) / (steps - 1)));
  return [...out, 0];
}

test("shift 1: a plain linspace from 1 to 1/N, then 0", () => {
  const { sigmas, timesteps } = flowMatchSigmas(flowMatchConfig({}), 4, { imageSeqLen: 0 });
  // linspace(1000, 1, 4) = 1000, 667, 334, 1
  assertClose(sigmas, [1, 0.667, 0.334, 0.001, 0]);
  assertClose(timesteps, [1000, 667, 334, 1], 1e-4);
});

test("static shift 3 matches the formula and hand-derived values", () => {
  const { sigmas } = flowMatchSigmas(flowMatchConfig({ shift: 3 }), 4, { imageSeqLen: 0 });
  assertClose(sigmas, expectedStatic(3, 4));
  // By hand: sigma_min = shift3(1/1000) = 3/1002; linspace(1, 3/1002, 4) = 1, 669/1002, 336/1002, 3/1002;
  // shift3 of those = 1, 2007/2340 = 223/260, 1008/1674 = 56/93, and 9/1008 = 1/112 (shift applied twice = shift 9).
  assertClose(sigmas, [1, 223 / 260, 56 / 93, 1 / 112, 0]);
  for (const steps of [1, 2, 7, 30, 50]) {
    assertClose(flowMatchSigmas(flowMatchConfig({ shift: 5 }), steps, { imageSeqLen: 0 }).sigmas, expectedStatic(5, steps));
  }
});

test("sigmas fall monotonically from 1 to 0 and timesteps are sigma * N", () => {
  const configs = [
    {},
    { shift: 3 },
    { shift: 7, num_train_timesteps: 500 },
    { use_dynamic_shifting: true },
    { use_dynamic_shifting: true, time_shift_type: "linear" },
    { use_dynamic_shifting: true, base_shift: 0.95, max_shift: 2.05, base_image_seq_len: 1024, shift_terminal: 0.1 },
  ];
  for (const raw of configs) {
    const config = flowMatchConfig(raw);
    for (const steps of [1, 4, 40]) {
      const { sigmas, timesteps } = flowMatchSigmas(config, steps, { imageSeqLen: 3000 });
      assert.equal(sigmas.length, steps + 1);
      assert.equal(timesteps.length, steps);
      assert.ok(Math.abs(sigmas[0]! - 1) < F32_TOL, `starts at 1: ${JSON.stringify(raw)}`);
      assert.equal(sigmas[steps], 0);
      for (let i = 0; i < steps; i++) {
        assert.ok(sigmas[i]! > sigmas[i + 1]!, `decreasing at ${i}: ${JSON.stringify(raw)}`);
        assert.equal(timesteps[i], Math.fround(sigmas[i]! * config.num_train_timesteps));
      }
    }
  }
});

test("calculateShift is linear between the base and max endpoints", () => {
  assert.equal(calculateShift(256, 256, 4096, 0.5, 1.15), 0.5);
  assert.ok(Math.abs(calculateShift(4096, 256, 4096, 0.5, 1.15) - 1.15) < 1e-12);
  assert.ok(Math.abs(calculateShift(2176, 256, 4096, 0.5, 1.15) - 0.825) < 1e-12);
  // LTX-2's range (models.md): 0.95 at 1024 tokens, 2.05 at 4096
  assert.ok(Math.abs(calculateShift(4096, 1024, 4096, 0.95, 2.05) - 2.05) < 1e-12);
});

test("dynamic shifting: exponential and linear time_shift with mu from the token count", () => {
  const base = { use_dynamic_shifting: true, shift: 3 }; // a static shift must be ignored here
  const raw = [1, 0.5005, 0.001]; // linspace(1000, 1, 3) / 1000: no init shift when dynamic
  for (const [imageSeqLen, mu] of [[256, 0.5], [4096, 1.15]] as const) {
    const exp = flowMatchSigmas(flowMatchConfig(base), 3, { imageSeqLen }).sigmas;
    assertClose(exp, [...raw.map((t) => Math.exp(mu) / (Math.exp(mu) + (1 / t - 1))), 0]);
    const lin = flowMatchSigmas(flowMatchConfig({ ...base, time_shift_type: "linear" }), 3, { imageSeqLen }).sigmas;
    assertClose(lin, [...raw.map((t) => mu / (mu + (1 / t - 1))), 0]);
    assert.ok(exp[1]! > lin[1]!, "e^mu > mu, so the exponential form shifts further");
  }
  // By hand: exponential with mu = 0 and linear with mu = 1 both reduce to t / (t + 1 - t) = t.
  const identity = { use_dynamic_shifting: true, base_shift: 0, max_shift: 1 };
  assertClose(flowMatchSigmas(flowMatchConfig(identity), 3, { imageSeqLen: 256 }).sigmas, [...raw, 0]);
  assertClose(
    flowMatchSigmas(flowMatchConfig({ ...identity, time_shift_type: "linear" }), 3, { imageSeqLen: 4096 }).sigmas,
    [...raw, 0],
  );
});

test("shift_terminal stretches the schedule to end exactly there", () => {
  const config = flowMatchConfig({
    use_dynamic_shifting: true, base_shift: 0.95, max_shift: 2.05, base_image_seq_len: 1024, shift_terminal: 0.1,
  });
  const { sigmas } = flowMatchSigmas(config, 8, { imageSeqLen: 2048 });
  const unstretched = flowMatchSigmas({ ...config, shift_terminal: null }, 8, { imageSeqLen: 2048 }).sigmas;
  const scale = (1 - unstretched[7]!) / (1 - 0.1);
  assertClose(sigmas, [...Array.from(unstretched.subarray(0, 8), (s) => 1 - (1 - s) / scale), 0]);
  assert.ok(Math.abs(sigmas[7]! - 0.1) < F32_TOL);
});

test("steps must be a positive integer", () => {
  const config = flowMatchConfig({});
  for (const steps of [0, -1, 2.5, Number.NaN]) {
    assert.throws(() => flowMatchSigmas(config, steps, { imageSeqLen: 0 }), RangeError);
  }
});

test("Euler with the exact velocity lands on x0", () => {
  const n = 4096;
  const x0 = gaussianNoise(n, 1);
  const x = gaussianNoise(n, 2); // sigma = 1: pure noise
  const v = new Float32Array(n);
  const { sigmas } = flowMatchSigmas(flowMatchConfig({ shift: 3 }), 12, { imageSeqLen: 0 });
  for (let i = 0; i + 1 < sigmas.length; i++) {
    const sigma = sigmas[i]!;
    // On the path x = (1 - sigma) x0 + sigma * noise, the velocity noise - x0 is (x - x0) / sigma.
    for (let j = 0; j < n; j++) v[j] = (x[j]! - x0[j]!) / sigma;
    eulerStep(x, v, sigma, sigmas[i + 1]!);
  }
  let maxErr = 0;
  for (let j = 0; j < n; j++) maxErr = Math.max(maxErr, Math.abs(x[j]! - x0[j]!));
  assert.ok(maxErr < 1e-5, `max error ${maxErr}`);
});

test("the guided step equals guidance followed by a plain Euler step", () => {
  const n = 10_001;
  const x = gaussianNoise(n, 3);
  const vU = gaussianNoise(n, 4);
  const vC = gaussianNoise(n, 5);
  const [g, sigma, sigmaNext] = [4.5, 0.8, 0.65];
  const expected = x.slice();
  const v = new Float32Array(n);
  for (let j = 0; j < n; j++) v[j] = vU[j]! + g * (vC[j]! - vU[j]!);
  eulerStep(expected, v, sigma, sigmaNext);
  const mirror = new Float32Array(n);
  guidedEulerStep(x, vU, vC, g, sigma, sigmaNext, mirror);
  assertClose(x, Array.from(expected), 1e-5);
  assert.deepEqual(mirror, x, "the mirror holds the same new latent");
});

test("mismatched buffer lengths are refused", () => {
  assert.throws(() => eulerStep(new Float32Array(4), new Float32Array(3), 1, 0.5), RangeError);
  assert.throws(
    () => guidedEulerStep(new Float32Array(4), new Float32Array(4), new Float32Array(5), 2, 1, 0.5),
    RangeError,
  );
});
