import assert from "node:assert/strict";

/** Mean absolute difference of two RGB frame buffers of the same size, in 8-bit levels. */
export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}
