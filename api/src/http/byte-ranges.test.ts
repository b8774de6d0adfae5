import assert from "node:assert/strict";
import { test } from "node:test";
import { hasSuffixRange, wholeFileForLongSuffix } from "./byte-ranges.js";

test("a suffix range longer than the file becomes the whole file; everything else is left alone", () => {
  assert.equal(wholeFileForLongSuffix("bytes=-5000", 1000), "bytes=0-");
  assert.equal(wholeFileForLongSuffix("bytes=-1000", 1000), "bytes=-1000");
  assert.equal(wholeFileForLongSuffix("bytes=-10", 1000), "bytes=-10");
  assert.equal(wholeFileForLongSuffix("bytes=0-9, -5000", 1000), "bytes=0-9,0-");
  assert.equal(wholeFileForLongSuffix("bytes=2000-3000", 1000), "bytes=2000-3000", "past the end stays unsatisfiable");
  assert.equal(wholeFileForLongSuffix("items=-5000", 1000), "items=-5000");
  assert.deepEqual(["bytes=-5", "bytes=0-1, -5", "bytes=0-5", "bytes=5-"].map(hasSuffixRange), [true, true, false, false]);
});
