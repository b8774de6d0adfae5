import assert from "node:assert/strict";
import type { HttpAnswer } from "./platform.js";

/**
 * The Range answers a job's video gets, whatever stores it: 206 with the right slice, a range past the
 * end as 416 in JSON naming the size, a suffix longer than the file as all of it (RFC 9110), a suffix
 * within it as its tail. `get(range)` GETs the video with that Range header; `full` is its bytes.
 */
export async function assertRangeAnswers(get: (range: string) => Promise<HttpAnswer>, full: Buffer): Promise<void> {
  const part = await get("bytes=10-109");
  assert.equal(part.status, 206);
  assert.equal(part.headers.get("content-range"), `bytes 10-109/${full.length}`);
  assert.deepEqual(part.body, full.subarray(10, 110));

  const beyond = await get(`bytes=${full.length + 10}-${full.length + 20}`);
  assert.equal(beyond.status, 416, JSON.stringify(beyond.body));
  assert.match(beyond.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(beyond.headers.get("content-range"), `bytes */${full.length}`);
  assert.equal(beyond.body.error.code, "range_not_satisfiable");
  assert.match(beyond.body.error.message, new RegExp(`${full.length}-byte file`));
  assert.equal(beyond.headers.get("etag"), null, "the error is not the file");

  const longSuffix = await get(`bytes=-${full.length * 2}`);
  assert.equal(longSuffix.status, 206);
  assert.equal(longSuffix.headers.get("content-range"), `bytes 0-${full.length - 1}/${full.length}`);
  assert.deepEqual(longSuffix.body, full);
  const tail = await get("bytes=-100");
  assert.deepEqual([tail.status, tail.body], [206, full.subarray(full.length - 100)]);
}
