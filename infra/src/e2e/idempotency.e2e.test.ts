import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Platform } from "./platform.js";

let p: Platform;
before(async () => {
  p = await Platform.start();
});
after(() => p?.stop());

const body = { model: "tiny", prompt: "only once", width: 64, height: 64, num_frames: 5, steps: 2 };
const post = (path: string, b: object, key?: string) => p.request("POST", path, b, key ? { "idempotency-key": key } : {});

test("50 concurrent identical submissions with one Idempotency-Key make one job", async () => {
  const before = (await p.request("GET", "/v1/jobs?model=tiny")).body.jobs.length;
  const answers = await Promise.all(Array.from({ length: 50 }, () => post("/v1/jobs", body, "order-4711")));
  const statuses = answers.map((a) => a.status).sort();
  assert.deepEqual(statuses, [...Array(49).fill(200), 202].sort(), JSON.stringify(answers.filter((a) => a.status >= 400).map((a) => a.body)));
  assert.equal(new Set(answers.map((a) => a.body.id)).size, 1, "every answer names the same job");
  assert.equal((await p.request("GET", "/v1/jobs?model=tiny")).body.jobs.length, before + 1);
  // The seed chosen for the first request is the job's: a repeat never gets a different video.
  assert.equal(new Set(answers.map((a) => a.body.params.seed)).size, 1);
});

test("a later repeat returns the same job; the same key with another body is a 422", async () => {
  const first = await post("/v1/jobs", { ...body, prompt: "again" }, "key-2");
  const again = await post("/v1/jobs", { prompt: "again", model: "tiny", num_frames: 5, width: 64, height: 64, steps: 2 }, "key-2");
  assert.deepEqual([first.status, again.status], [202, 200]);
  assert.equal(again.body.id, first.body.id, "same request in another key order");
  const clash = await post("/v1/jobs", { ...body, prompt: "something else" }, "key-2");
  assert.equal(clash.status, 422);
  assert.equal(clash.body.error.code, "idempotency_key_reused");
  assert.equal(clash.body.error.details.job_id, first.body.id);
  const other = await post("/v1/jobs", { ...body, prompt: "again" }, "key-3");
  assert.notEqual(other.body.id, first.body.id, "another key, another job");
});

test("the seed route honours the key too; a bad key is a 400; no key, no deduplication", async () => {
  const g = { prompt: "seeded once", duration: 1, resolution: "64x64", fps: 16, seed: 42 };
  const a = await post("/v1/models/tiny/generate", g, "gen-1");
  const b = await post("/v1/models/tiny/generate", g, "gen-1");
  assert.deepEqual([a.status, b.status], [202, 200]);
  assert.equal(b.body.job_id, a.body.job_id);
  assert.equal((await post("/v1/jobs", body, "x".repeat(256))).status, 400);
  const [n1, n2] = await Promise.all([post("/v1/jobs", body), post("/v1/jobs", body)]);
  assert.notEqual(n1.body.id, n2.body.id);
  const failed = await post("/v1/jobs", { ...body, num_frames: 6 }, "bad-then-good");
  assert.equal(failed.status, 400);
  assert.equal((await post("/v1/jobs", body, "bad-then-good")).status, 202, "an invalid request does not use up the key");
});
