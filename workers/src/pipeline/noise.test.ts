import { test } from "node:test";
import assert from "node:assert/strict";
import { fillGaussian, gaussianNoise, randomSeed } from "./noise.js";

test("the same seed gives identical noise; other seeds differ", () => {
  assert.deepEqual(gaussianNoise(100_000, 42), gaussianNoise(100_000, 42));
  const a = gaussianNoise(1000, 42);
  for (const other of [43, 0, 2 ** 32, 2 ** 32 + 42, Number.MAX_SAFE_INTEGER]) {
    const b = gaussianNoise(1000, other);
    assert.ok(a.some((v, i) => v !== b[i]), `seed ${other} repeats seed 42`);
  }
});

test("a shorter request is a prefix of a longer one", () => {
  assert.deepEqual(gaussianNoise(999, 7), gaussianNoise(5000, 7).subarray(0, 999));
  assert.equal(gaussianNoise(0, 7).length, 0);
});

test("fillGaussian writes the same values into the buffer it is given, a view too", () => {
  const buffer = new Float32Array(1200).fill(9);
  const view = buffer.subarray(100, 1100);
  assert.equal(fillGaussian(view, 5), view);
  assert.deepEqual(view, gaussianNoise(1000, 5));
  assert.ok(buffer.subarray(0, 100).every((v) => v === 9) && buffer.subarray(1100).every((v) => v === 9), "nothing outside the view is written");
});

test("1M samples look standard normal", () => {
  const n = 1_000_000;
  const x = gaussianNoise(n, 12345);
  let sum = 0;
  let sumSq = 0;
  let beyond2 = 0;
  let beyondTail = 0;
  for (const v of x) {
    assert.ok(Number.isFinite(v));
    sum += v;
    sumSq += v * v;
    if (Math.abs(v) > 2) beyond2++;
    if (Math.abs(v) > 3.5) beyondTail++; // only reachable through the ziggurat's tail path
  }
  const mean = sum / n;
  const std = Math.sqrt(sumSq / n - mean * mean);
  assert.ok(Math.abs(mean) < 0.005, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.005, `std ${std}`);
  // P(|z| > 2) = 0.0455, P(|z| > 3.5) = 4.65e-4
  assert.ok(Math.abs(beyond2 / n - 0.0455) < 0.002, `P(|z|>2) ${beyond2 / n}`);
  assert.ok(Math.abs(beyondTail / n - 4.65e-4) < 1.2e-4, `P(|z|>3.5) ${beyondTail / n}`);
});

test("seeds must be non-negative safe integers", () => {
  for (const seed of [-1, 1.5, Number.NaN, 2 ** 53]) assert.throws(() => gaussianNoise(4, seed), RangeError);
});

test("randomSeed returns integers in [0, 2^32 - 1]", () => {
  for (let i = 0; i < 100; i++) {
    const s = randomSeed();
    assert.ok(Number.isInteger(s) && s >= 0 && s <= 2 ** 32 - 1, String(s));
  }
});
