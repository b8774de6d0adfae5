import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { Platform, type HttpAnswer } from "./platform.js";

let p: Platform;
let redis: Redis;
before(async () => {
  p = await Platform.start({ env: { MAX_BODY_BYTES: "4096", MAX_PROMPT_CHARS: "500" } });
  redis = new Redis(p.redis.url);
});
after(async () => {
  redis?.disconnect();
  await p?.stop();
});

function assertError(res: HttpAnswer, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, "string");
  assert.doesNotMatch(JSON.stringify(res.body), /at .*\.js:\d+|node_modules/, "no stack trace");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", "security headers on errors too");
  assert.match(res.headers.get("x-request-id") ?? "", /^[\w.:\/+=@-]{1,128}$/, "a request id on errors too");
}

const message = (res: HttpAnswer) => String(res.body.error.message);

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

test("ids that cannot name a job are 404s that leave nothing in Redis", async () => {
  const keysBefore = (await redis.keys("*")).sort();
  const sizeBefore = await redis.dbsize();
  for (let i = 0; i < 5; i++) {
    // A model neither in the catalogue nor installed, and ids not of the shape the API gives out.
    for (const id of [`ghost${i}-x`, `ghost${i}-00000000-0000-4000-8000-000000000000`, `tiny-x${i}`, `tiny-00000000-0000-4000-8000-00000000000${i}-x`]) {
      assertError(await p.request("GET", `/v1/jobs/${id}`), 404, "not_found");
      assertError(await p.request("GET", `/v1/jobs/${id}/video`), 404, "not_found");
      assertError(await p.request("GET", `/v1/jobs/${id}/events`), 404, "not_found");
      assertError(await p.request("DELETE", `/v1/jobs/${id}`), 404, "not_found");
      assertError(await p.request("POST", `/v1/jobs/${id}/webhook/redeliver`, {}), 404, "not_found");
    }
    const listed = await p.request("GET", `/v1/jobs?model=ghost${i}`);
    assertError(listed, 400, "invalid_request");
    assert.match(message(listed), new RegExp(`unknown model ghost${i}`));
  }
  assert.equal(await redis.dbsize(), sizeBefore);
  assert.deepEqual((await redis.keys("*")).sort(), keysBefore, "no queue (BullMQ meta key) made for any of those names");
});

test("/v1/models/constructor is not a model: names never reach an object's prototype", async () => {
  for (const name of ["constructor"]) {
    assertError(await p.request("GET", `/v1/models/${name}`), 404, "not_found");
    assertError(await p.request("POST", `/v1/models/${name}/generate`, { prompt: "a" }), 404, "not_found");
    assertError(await p.request("POST", "/v1/jobs", { model: name, prompt: "a" }), 400, "invalid_request");
  }
  const models = (await p.request("GET", "/v1/models")).body.models.map((m: any) => m.name);
  assert.ok(!models.includes("constructor"));
});

test("messages name the fields the caller sent, in plain words", async () => {
  const missing = await p.request("POST", "/v1/jobs", { model: "tiny" });
  assertError(missing, 400, "invalid_request");
  assert.equal(message(missing), "invalid job request: prompt is required");
  assert.deepEqual(missing.body.error.details, [{ field: "prompt", message: "prompt is required" }]);
  const typed = await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "a", width: "wide", steps: 1.5 });
  assert.match(message(typed), /width must be a number, not the string "wide"/);
  assert.match(message(typed), /steps must be a whole number/);

  const seedNoPrompt = await p.request("POST", "/v1/models/tiny/generate", { duration: 1 });
  assert.equal(message(seedNoPrompt), "invalid generate request: prompt is required");
  const resolution = await p.request("POST", "/v1/models/tiny/generate", { prompt: "a", resolution: "1000x576" });
  assertError(resolution, 400, "invalid_parameters");
  assert.deepEqual(resolution.body.error.details.map((d: any) => d.field), ["resolution"]);
  assert.match(message(resolution), /resolution 1000x576 is not valid: width must be a multiple of 16 between 32 and 512 and height must be/);
  assert.deepEqual(resolution.body.error.details[0].nearest, ["512x512"]);
  const duration = await p.request("POST", "/v1/models/tiny/generate", { prompt: "a", duration: 500 });
  assert.deepEqual(duration.body.error.details.map((d: any) => d.field), ["duration"]);
  assert.match(message(duration), /^the request does not fit model tiny: duration at 16 fps must give/);
  assert.doesNotMatch(JSON.stringify([resolution.body, duration.body]), /"field":"(width|height|duration_s)"/);

  const longUrl = await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "a", webhook: { url: `https://example.com/${"x".repeat(2100)}` } });
  assertError(longUrl, 400, "invalid_request");
  assert.match(message(longUrl), /webhook\.url must be at most 2048 characters long \(it has 2120\)/);
});

test("an empty body, sent as JSON or with no type at all, is named as such", async () => {
  for (const headers of [{ "content-type": "application/json" }, {} as Record<string, string>]) {
    const res = await fetch(`${p.base}/v1/jobs`, { method: "POST", headers });
    const body = (await res.json()) as any;
    assert.deepEqual([res.status, body.error.code], [400, "empty_body"], JSON.stringify(headers));
    assert.match(body.error.message, /the request has no body: send a JSON object/);
  }
  const empty = await p.request("POST", "/v1/models/tiny/generate", "", { "content-type": "application/json" });
  assertError(empty, 400, "empty_body");
});

test("a Last-Event-ID Redis would refuse is a 400 before any stream opens", async () => {
  const id = (await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "resume", width: 64, height: 64, num_frames: 5, steps: 2 })).body.id;
  for (const bad of ["99999999999999999999-0", "1-99999999999999999999", "18446744073709551615-18446744073709551615", "abc"]) {
    const res = await p.request("GET", `/v1/jobs/${id}/events`, undefined, { "last-event-id": bad });
    assertError(res, 400, "invalid_request");
    assert.match(message(res), /^Last-Event-ID .* is not an event id of this stream/);
  }
  // The largest id Redis takes is still a place to resume from (nothing after it yet: the current state).
  const abort = new AbortController();
  const ok = await fetch(`${p.base}/v1/jobs/${id}/events`, { headers: { "last-event-id": "18446744073709551615-0" }, signal: abort.signal });
  assert.equal(ok.status, 200);
  abort.abort();
});

test("every answer carries a request id: a sane incoming one is kept, anything else replaced", async () => {
  const kept = await p.request("GET", "/healthz", undefined, { "x-request-id": "proxy-42.abc" });
  assert.equal(kept.headers.get("x-request-id"), "proxy-42.abc");
  const replaced = await p.request("GET", "/v1/jobs/nope", undefined, { "x-request-id": "bad id\twith spaces" });
  assert.match(replaced.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  const fresh = await p.request("GET", "/healthz");
  assert.match(fresh.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
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
