import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Platform, type HttpAnswer } from "./platform.js";

let p: Platform;
before(async () => {
  p = await Platform.start({ env: { MAX_BODY_BYTES: "4096", MAX_PROMPT_CHARS: "500" } });
});
after(() => p?.stop());

function assertError(res: HttpAnswer, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, "string");
  assert.doesNotMatch(JSON.stringify(res.body), /at .*\.js:\d+|node_modules/, "no stack trace");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", "security headers on errors too");
}

test("malformed JSON, a missing content type and an oversized body are 4xx", async () => {
  assertError(await p.request("POST", "/v1/jobs", '{"model": "tiny", "prompt": '), 400, "malformed_json");
  assertError(await p.request("POST", "/v1/jobs", "model=tiny", { "content-type": "text/plain" }), 415, "unsupported_media_type");
  assertError(await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "x".repeat(5000) }), 413, "payload_too_large");
  assertError(await p.request("POST", "/v1/jobs", "null"), 400, "invalid_request");
  assertError(await p.request("POST", "/v1/jobs", "[1,2]"), 400, "invalid_request");
});

test("wrong types and unknown fields name the field", async () => {
  const res = await p.request("POST", "/v1/jobs", { model: "tiny", prompt: 42, width: "wide", extra: true });
  assertError(res, 400, "invalid_request");
  const fields = res.body.error.details.map((d: any) => d.field).sort();
  assert.deepEqual(fields, ["extra", "prompt", "width"]);
  assertError(await p.request("POST", "/v1/jobs", { prompt: "a" }), 400, "invalid_request");
  assertError(await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "x".repeat(501) }), 400, "invalid_request");
  assertError(await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "a", webhook: { url: "ftp://example.com/" } }), 400, "invalid_request");
  const hooked = await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "a", webhook: { url: "https://example.com/hook" } });
  assertError(hooked, 400, "webhooks_disabled"); // this platform has no WEBHOOK_SECRET
  assert.match(hooked.body.error.message, /WEBHOOK_SECRET/);
});

test("values outside the model's rules get the rule and the nearest valid values", async () => {
  const res = await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "a", num_frames: 18, width: 250, steps: 5000, guidance: 50 });
  assertError(res, 400, "invalid_parameters");
  const byField = Object.fromEntries(res.body.error.details.map((d: any) => [d.field, d]));
  assert.deepEqual(byField.num_frames.nearest, [17, 21]);
  assert.equal(byField.num_frames.rule, "4k+1 frames, 5 to 129");
  assert.deepEqual(byField.width.nearest, [240, 256]);
  assert.deepEqual(byField.steps.nearest, [1000]);
  assert.deepEqual(byField.guidance.nearest, [10]);

  const huge = await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "a", width: 1e300, num_frames: 1e12, seed: 2 ** 60 });
  assertError(huge, 400, "invalid_request");
  assertError(await p.request("POST", "/v1/models/tiny/generate", { prompt: "a", resolution: "99999x1" }), 400, "invalid_parameters");
  assertError(await p.request("POST", "/v1/models/tiny/generate", { prompt: "a", duration: 500 }), 400, "invalid_parameters");
});

test("unknown models, jobs and routes are 4xx", async () => {
  assertError(await p.request("POST", "/v1/jobs", { model: "nosuch", prompt: "a" }), 400, "invalid_request");
  assertError(await p.request("POST", "/v1/models/nosuch/generate", { prompt: "a" }), 404, "not_found");
  assertError(await p.request("GET", "/v1/models/nosuch"), 404, "not_found");
  assertError(await p.request("GET", "/v1/jobs/tiny-00000000-0000-0000-0000-000000000000"), 404, "not_found");
  assertError(await p.request("GET", "/v1/jobs/%E0%A4%A"), 400, "invalid_request");
  assertError(await p.request("GET", "/v1/jobs/../../etc/passwd/video"), 404, "not_found");
  assertError(await p.request("GET", "/v1/jobs?status=sleeping"), 400, "invalid_request");
  assertError(await p.request("GET", "/nope"), 404, "not_found");
});

test("a job accepted while no worker runs waits, then completes when one starts", async () => {
  const res = await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "patient", width: 64, height: 64, num_frames: 5, steps: 2, seed: 5 });
  assert.equal(res.status, 202);
  assert.equal((await p.request("GET", "/readyz")).status, 503);
  await p.startWorker("tiny");
  const job = await p.waitForTerminal(res.body.id);
  assert.equal(job.status, "completed");
});
