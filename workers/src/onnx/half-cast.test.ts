import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { castTensor } from "./half-cast.js";

/** The value of a half bit pattern by the definition of binary16, in float64 (independent of the table). */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return exp === 0 ? sign * mant * 2 ** -24 : sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The nearest half to a float32 value, ties to even, by exact float64 arithmetic on its units in the last place. */
function nearestHalf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity; // 65520 is the midpoint to 2^16: ties to even overflow
  let e = a === 0 ? -14 : Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const q = a / ulp;
  const fl = Math.floor(q);
  const r = q - fl > 0.5 || (q - fl === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  return (x < 0 || Object.is(x, -0) ? -1 : 1) * r * ulp;
}

const f32 = (bits: number) => {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, bits >>> 0);
  return dv.getFloat32(0);
};

const toHalfBits = async (src: Float32Array) => (await castTensor(new ort.Tensor("float32", src, [src.length]), "float16")).data as Uint16Array;
const fromHalfBits = async (src: Uint16Array) => (await castTensor(new ort.Tensor("float16", src, [src.length]), "float32")).data as Float32Array;
const toHalf = async (values: number[]) => Array.from(await toHalfBits(Float32Array.from(values)));

test("every float16 bit pattern decodes to its value by definition; NaN stays NaN", async () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const out = await fromHalfBits(all);
  for (let h = 0; h < 65536; h++) {
    const want = halfValue(h);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(out[h]), `0x${h.toString(16)} is NaN`);
    else assert.ok(Object.is(out[h], want), `0x${h.toString(16)}: ${out[h]} != ${want}`);
  }
});

test("float32 to float16 at the edges: ties to even, subnormals, overflow, signed zero, inf and NaN", async () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [0, 0x0000],
    [-0, 0x8000],
    [65504, 0x7bff], // the largest half
    [65519.99609375, 0x7bff], // just below the midpoint to 2^16
    [65520, 0x7c00], // the midpoint: ties to even, which is the overflow
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10: to the even 1
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: to the even 0x3c02
    [1 + 2 ** -11 + 2 ** -23, 0x3c01], // just above the tie
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24: to even 0
    [f32(0x33000001), 0x0001], // just above 2^-25
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 units: to the even 2
    [2 ** -14 - 2 ** -25, 0x0400], // the largest subnormal's midpoint to the smallest normal: rounds up into it
    [1023 * 2 ** -24, 0x03ff], // the largest subnormal, exact
    [2 ** -30, 0x0000],
    [-(2 ** -30), 0x8000],
  ];
  const got = await toHalf(cases.map(([x]) => x));
  cases.forEach(([x, want], i) => assert.equal(got[i], want, `${x}: 0x${got[i]!.toString(16)} != 0x${want.toString(16)}`));
  const [nan] = await toHalf([NaN]);
  assert.equal(nan! & 0x7c00, 0x7c00);
  assert.notEqual(nan! & 0x3ff, 0, "NaN stays NaN, not infinity");
});

test("float32 to float16 rounds every sampled float32 to the nearest half", async () => {
  // Deterministic spread over all exponents a half reaches and beyond, both signs.
  const n = 200_000;
  const src = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const exp = 95 + (s % 55); // float32 exponents 95..149: below half subnormals to past 2^16
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    src[i] = f32(((s & 1) << 31) | (exp << 23) | (s >>> 9));
  }
  const back = await fromHalfBits(await toHalfBits(src));
  for (let i = 0; i < n; i++) {
    const want = nearestHalf(src[i]!);
    assert.ok(Object.is(back[i], want), `${src[i]}: ${back[i]} != ${want}`);
  }
});

test("a tensor keeps its dims through a cast; other element types are refused", async () => {
  const x = new ort.Tensor("float32", Float32Array.of(1, 2, 3, 4, 5, 6), [2, 1, 3]);
  const half = await castTensor(x, "float16");
  assert.deepEqual([half.type, half.dims], ["float16", [2, 1, 3]]);
  assert.equal(await castTensor(half, "float16"), half, "already float16: unchanged");
  assert.deepEqual(Array.from((await castTensor(half, "float32")).data as Float32Array), [1, 2, 3, 4, 5, 6]);
  await assert.rejects(castTensor(new ort.Tensor("int64", BigInt64Array.of(1n), [1]), "float16"), /cannot cast a int64 tensor/);
});
