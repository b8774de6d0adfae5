import { randomInt } from "node:crypto";

const MASK64 = (1n << 64n) - 1n;

/** splitmix64: spreads any seed (nearby ones too) over the generator's 128-bit state. */
function seedState(seed: number): Int32Array {
  let z = BigInt(seed);
  const state = new Int32Array(4); // int32 words: the hot loop's native integer type
  for (let i = 0; i < 4; i += 2) {
    z = (z + 0x9e3779b97f4a7c15n) & MASK64;
    let r = z;
    r = ((r ^ (r >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    r = ((r ^ (r >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    r ^= r >> 31n;
    state[i] = Number(BigInt.asIntN(32, r));
    state[i + 1] = Number(BigInt.asIntN(32, r >> 32n));
  }
  // Consecutive splitmix64 outputs are distinct, so the state is never all zero.
  return state;
}

// Ziggurat tables (Marsaglia & Tsang 2000, 128 layers of equal area). A draw's low 7 bits pick the
// layer and its upper 25 bits the signed position, so layer and position are independent.
const R = 3.442619855899; // where the base layer's tail begins
const LAYER_AREA = 9.91256303526217e-3;
const UNIT = 2 ** 24; // 25-bit signed positions span [-UNIT, UNIT)
const kn = new Float64Array(128); // |position| below this: inside the layer's rectangle, accept at once
const wn = new Float64Array(128); // position -> x
const fn = new Float64Array(128); // density at each layer's edge, for the wedge test
{
  let dn = R;
  let tn = R;
  const q = LAYER_AREA / Math.exp(-0.5 * dn * dn);
  kn[0] = (dn / q) * UNIT;
  wn[0] = q / UNIT;
  wn[127] = dn / UNIT;
  fn[0] = 1;
  fn[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(LAYER_AREA / dn + Math.exp(-0.5 * dn * dn)));
    kn[i + 1] = (dn / tn) * UNIT;
    tn = dn;
    fn[i] = Math.exp(-0.5 * dn * dn);
    wn[i] = dn / UNIT;
  }
}

/** One xoshiro128** output (int32); advances the state in place. */
function next(s: Int32Array): number {
  const s1 = s[1]!;
  const m = Math.imul(s1, 5);
  const r = Math.imul((m << 7) | (m >>> 25), 9);
  const t = s1 << 9;
  s[2]! ^= s[0]!;
  s[3]! ^= s1;
  s[1]! ^= s[2]!;
  s[0]! ^= s[3]!;
  s[2]! ^= t;
  s[3] = (s[3]! << 11) | (s[3]! >>> 21);
  return r;
}

/** Uniform in the open interval (0, 1): safe to take the log of. */
const uniform = (s: Int32Array): number => ((next(s) >>> 0) + 0.5) * 2 ** -32;

/** The rare draws (about 2.5%) outside a layer's rectangle: wedge rejection, or the tail beyond R. */
function slowDraw(s: Int32Array, r: number): number {
  for (;;) {
    const layer = r & 127;
    const pos = r >> 7;
    const x = pos * wn[layer]!;
    if (Math.abs(pos) < kn[layer]!) return x;
    if (layer === 0) {
      let a: number, b: number;
      do {
        a = -Math.log(uniform(s)) / R;
        b = -Math.log(uniform(s));
      } while (b + b < a * a);
      return pos > 0 ? R + a : -R - a;
    }
    if (fn[layer]! + uniform(s) * (fn[layer - 1]! - fn[layer]!) < Math.exp(-0.5 * x * x)) return x;
    r = next(s);
  }
}

/**
 * Deterministic standard normal values: xoshiro128** (32-bit operations suit JS integer math) and the
 * ziggurat method, which accepts about 97.5% of draws with one table lookup and a multiply. The hot loop
 * inlines the generator with its state in locals; the state goes back to the array only for slowDraw.
 */
export function gaussianNoise(count: number, seed: number): Float32Array {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  return fillGaussian(new Float32Array(count), seed);
}

/** `out` filled with gaussianNoise(out.length, seed), written in place (a latent's own buffer). */
export function fillGaussian(out: Float32Array, seed: number): Float32Array {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  const count = out.length;
  const st = seedState(seed);
  let s0 = st[0]!, s1 = st[1]!, s2 = st[2]!, s3 = st[3]!;
  for (let i = 0; i < count; i++) {
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
    const layer = r & 127;
    const pos = r >> 7;
    if (Math.abs(pos) < kn[layer]!) {
      out[i] = pos * wn[layer]!;
      continue;
    }
    st[0] = s0; st[1] = s1; st[2] = s2; st[3] = s3;
    out[i] = slowDraw(st, r);
    s0 = st[0]!; s1 = st[1]!; s2 = st[2]!; s3 = st[3]!;
  }
  return out;
}

/** A seed for requests that gave none: uniform over [0, 2^32 - 1]. */
export const randomSeed = (): number => randomInt(0, 2 ** 32);
