/**
 * IEEE 754 binary16 <-> float32, for graphs whose inputs and outputs are float16 (Node 20 has no
 * Float16Array; onnxruntime-node takes and returns float16 data as Uint16Array bit patterns).
 */

/** float16 bits -> float32 bits for all 65536 patterns: one table read per value, NaN payloads kept. */
const HALF_TO_FLOAT_BITS = (() => {
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0x1f) {
      table[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else if (exp !== 0) {
      table[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    } else if (mant === 0) {
      table[h] = sign >>> 0;
    } else {
      // Subnormal half: normalise into a float32 normal (every half subnormal is one).
      let e = 113;
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      table[h] = (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
    }
  }
  return table;
})();

/** One float32 (given as its bits) to float16 bits, rounding to nearest, ties to even. */
function floatBitsToHalf(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // inf, or a quiet NaN
  if (exp >= 143) return sign | 0x7c00; // |x| >= 2^16: past the largest half, infinity
  if (exp >= 113) {
    // Normal half. A carry out of the mantissa bumps the exponent, up to infinity at 65520: what RNE gives.
    const h = ((exp - 112) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    return sign | (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0) ? h + 1 : h);
  }
  if (exp <= 101) return sign; // |x| < 2^-25: rounds to zero (2^-25 itself is a tie, to even zero)
  // Subnormal half: units of 2^-24. The float's 24-bit significand shifted right by 126 - exp, rounded.
  const sig = mant | 0x800000;
  const shift = 126 - exp;
  const q = sig >>> shift;
  const rest = sig & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (rest > half || (rest === half && (q & 1) !== 0) ? q + 1 : q);
}

/** Writes `src` as float16 bit patterns into `dst` (same length). */
export function float32ToFloat16(src: Float32Array, dst: Uint16Array): Uint16Array {
  if (dst.length !== src.length) throw new RangeError(`float16 buffer has ${dst.length} values, source ${src.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = floatBitsToHalf(bits[i]!);
  return dst;
}

/** Writes float16 bit patterns as float32 values into `dst` (same length); exact. */
export function float16ToFloat32(src: Uint16Array, dst: Float32Array): Float32Array {
  if (dst.length !== src.length) throw new RangeError(`float32 buffer has ${dst.length} values, source ${src.length}`);
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = HALF_TO_FLOAT_BITS[src[i]!]!;
  return dst;
}
