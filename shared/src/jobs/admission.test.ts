import assert from "node:assert/strict";
import { test } from "node:test";
import { Queue } from "bullmq";
import { TooManyRequestsError } from "../errors.js";
import { queueName } from "../contracts/generate-queue.js";
import { redisKeys } from "../queues.js";
import { redisForTests } from "../testing/unit-redis.js";
import { SubmissionGate, type Admission, type AdmissionLimits } from "./admission.js";

const server = redisForTests("admission");

let n = 0;
const gate = (limits: Partial<AdmissionLimits>, lifetimeMs?: number) => {
  const prefix = `a${n++}`;
  return { prefix, gate: new SubmissionGate(server.client, prefix, { maxQueuedPerModel: 0, perMinute: 0, burst: 1, ...limits }, lifetimeMs) };
};

/** The admission, or the refusal's code and Retry-After. */
async function attempt(g: SubmissionGate, model: string, principal?: string): Promise<Admission | { code: string; retryAfter: number }> {
  try {
    return await g.admit(model, principal);
  } catch (err) {
    if (err instanceof TooManyRequestsError) return { code: err.code, retryAfter: err.retryAfterSeconds };
    throw err;
  }
}
const admitted = (r: Awaited<ReturnType<typeof attempt>>): r is Admission => "release" in r;

test("the queue cap is exact under concurrent submissions and counts BullMQ's waiting, prioritized and delayed jobs", async () => {
  const { prefix, gate: g } = gate({ maxQueuedPerModel: 6 });
  const queue = new Queue(queueName("m"), { connection: server.client, prefix });
  await queue.add("generate", { n: 1 });
  await queue.add("generate", { n: 2 }, { priority: 5 });
  await queue.add("generate", { n: 3 }, { delay: 60000 });

  const results = await Promise.all(Array.from({ length: 20 }, () => attempt(g, "m", "key-a")));
  const ok = results.filter(admitted);
  assert.equal(ok.length, 3, "3 jobs + 3 in-flight admissions reach the cap of 6");
  for (const r of results.filter((r) => !admitted(r))) assert.deepEqual(r, { code: "queue_full", retryAfter: 5 });

  // An admitted submission becomes a job, then gives its place back: the count stays the same.
  await queue.add("generate", { n: 4 });
  await ok[0]!.release();
  assert.ok(!admitted(await attempt(g, "m")), "the new job holds the place");
  await ok[1]!.release();
  assert.ok(admitted(await attempt(g, "m")), "a place given back without a job is free again");
  assert.ok(admitted(await attempt(g, "other")), "each model has its own cap");
  await queue.close();
});

test("a job cancelled while queued holds no place, in any of BullMQ's not-started states", async () => {
  const { prefix, gate: g } = gate({ maxQueuedPerModel: 3 });
  const queue = new Queue(queueName("m"), { connection: server.client, prefix });
  const jobs = [await queue.add("generate", { n: 1 }), await queue.add("generate", { n: 2 }, { priority: 5 }), await queue.add("generate", { n: 3 }, { delay: 60000 })];
  // Each admission is held: the cap stays full but for the place the next cancellation frees.
  const held: Admission[] = [];
  for (const job of jobs) {
    assert.ok(!admitted(await attempt(g, "m")), "the cap is full");
    await server.client.set(redisKeys(prefix).cancel(job.id!), "1");
    const admission = await attempt(g, "m");
    assert.ok(admitted(admission), `cancelling the ${job.opts.priority ? "prioritized" : job.opts.delay ? "delayed" : "waiting"} job frees its place`);
    held.push(admission);
  }
  for (const admission of held) await admission.release();
  await queue.close();
});

test("an admission whose API died expires and frees its place", async () => {
  const { gate: g } = gate({ maxQueuedPerModel: 1 }, 200);
  assert.ok(admitted(await attempt(g, "m")));
  assert.ok(!admitted(await attempt(g, "m")));
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(admitted(await attempt(g, "m")));
});

test("the token bucket allows a burst, then the rate, per key; anonymous callers are not limited", async () => {
  const { gate: g } = gate({ perMinute: 600, burst: 3 });
  for (let i = 0; i < 3; i++) assert.ok(admitted(await attempt(g, "m", "key-a")));
  assert.deepEqual(await attempt(g, "m", "key-a"), { code: "rate_limited", retryAfter: 1 });
  assert.ok(admitted(await attempt(g, "m", "key-b")), "another key has its own bucket");
  for (let i = 0; i < 10; i++) assert.ok(admitted(await attempt(g, "m")), "no key: no rate limit");
  await new Promise((r) => setTimeout(r, 250)); // 600/min refills one token per 100 ms
  assert.ok(admitted(await attempt(g, "m", "key-a")));
});

test("a refused submission spends nothing: a full queue keeps the key's tokens", async () => {
  const { gate: g } = gate({ maxQueuedPerModel: 1, perMinute: 1, burst: 2 });
  const first = await attempt(g, "m", "key-a");
  assert.ok(admitted(first));
  for (let i = 0; i < 5; i++) assert.equal((await attempt(g, "m", "key-a") as { code: string }).code, "queue_full");
  await first.release();
  assert.ok(admitted(await attempt(g, "m", "key-a")), "the second token was not spent by the refusals");
  const limited = await attempt(g, "m", "key-a");
  assert.ok(!admitted(limited) && limited.code === "rate_limited" && limited.retryAfter > 50 && limited.retryAfter <= 60, JSON.stringify(limited));
});

test("spending (a webhook redelivery) draws on the same bucket as submissions and ignores a full queue", async () => {
  const { prefix, gate: g } = gate({ maxQueuedPerModel: 1, perMinute: 1, burst: 2 });
  const queue = new Queue(queueName("m"), { connection: server.client, prefix });
  await queue.add("generate", { n: 1 });
  await g.spend("key-a");
  assert.deepEqual(await attempt(g, "m", "key-a"), { code: "queue_full", retryAfter: 5 }, "a token is left; the queue is what refuses");
  await g.spend("key-a");
  await assert.rejects(g.spend("key-a"), (err: unknown) => err instanceof TooManyRequestsError && err.code === "rate_limited" && err.retryAfterSeconds > 0);
  const refused = await attempt(g, "other", "key-a");
  assert.ok(!admitted(refused) && refused.code === "rate_limited", "a submission finds the bucket the redeliveries emptied");
  await g.spend(undefined);
  await queue.close();
});
