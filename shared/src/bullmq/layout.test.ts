import assert from "node:assert/strict";
import { test } from "node:test";
import { Queue, QueueEvents, Worker, type Job } from "bullmq";
import { redisForTests } from "../testing/unit-redis.js";
import { waitFor } from "../testing/wait.js";
import { BullLayout, fieldsOf } from "./layout.js";

// Contract tests: each key and reading of BullLayout checked against the real BullMQ this project pins.
// A BullMQ upgrade that moves any of them fails here, not in production.
const server = redisForTests("bull-layout");

let n = 0;
function fresh() {
  const prefix = `layout${n++}`;
  const queue = new Queue("generate-m", { connection: server.client, prefix });
  return { prefix, layout: new BullLayout(prefix), queue, name: "generate-m" };
}

/** BullMQ's own count of jobs that have not started, by state. */
const notStartedByBull = (q: Queue) => q.getJobCounts("waiting", "paused", "prioritized", "delayed");

test("notStarted names the lists and sets where BullMQ keeps waiting, paused, prioritized and delayed jobs", async () => {
  const { layout, queue, name } = fresh();
  await queue.add("generate", { n: 1 });
  await queue.add("generate", { n: 2 }, { priority: 3 });
  await queue.add("generate", { n: 3 }, { delay: 60000 });
  const keys = layout.notStarted(name);
  const r = server.client;
  const ours = { waiting: await r.llen(keys.wait), prioritized: await r.zcard(keys.prioritized), delayed: await r.zcard(keys.delayed) };
  const bull = await notStartedByBull(queue);
  assert.deepEqual(ours, { waiting: bull.waiting, prioritized: bull.prioritized, delayed: bull.delayed });
  assert.deepEqual(ours, { waiting: 1, prioritized: 1, delayed: 1 });

  await queue.pause();
  await queue.add("generate", { n: 4 });
  const paused = await r.llen(keys.paused);
  assert.equal(paused, (await notStartedByBull(queue)).paused);
  assert.ok(paused >= 2, "a paused queue keeps its waiting jobs in the paused list");
  await queue.close();
});

test("queuePosition and waitingCount agree with the order BullMQ's workers take jobs in", async () => {
  const { layout, queue, name } = fresh();
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push((await queue.add("generate", { i }, { jobId: `m-job-${i}` })).id!);
  const cancelled = "cancelled:";
  assert.equal(await layout.waitingCount(server.client, name, cancelled), 4);
  const positions = await Promise.all(ids.map((id) => layout.queuePosition(server.client, name, id, cancelled)));
  assert.deepEqual(positions, [0, 1, 2, 3]);
  assert.equal(await layout.queuePosition(server.client, name, "m-not-there", cancelled), undefined);
  // A job marked cancelled (still in the list until a worker records it) is ahead of no one.
  await server.client.set(`${cancelled}${ids[1]}`, "1");
  const after = await Promise.all(ids.map((id) => layout.queuePosition(server.client, name, id, cancelled)));
  assert.deepEqual(after, [0, 1, 1, 2]);
  assert.equal(await layout.waitingCount(server.client, name, cancelled), 3);
  await server.client.del(`${cancelled}${ids[1]}`);

  // The next job a worker takes is the one at position 0, and nextWaitingSince is its submission time.
  const first = (await queue.getJob(ids[0]!))!;
  assert.equal(await layout.nextWaitingSince(server.client, name), first.timestamp);
  const taken: string[] = [];
  const worker = new Worker(name, async (job: Job) => void taken.push(job.id!), { connection: server.connection(), prefix: layout.prefix });
  await waitFor("the worker to take every job", () => taken.length === 4);
  await worker.close();
  assert.deepEqual(taken, ids);
  assert.equal(await layout.nextWaitingSince(server.client, name), undefined);
  await queue.close();
});

test("jobData reads what the producer stored; finishedSince lists jobs by when they finished", async () => {
  const { layout, queue, name } = fresh();
  const before = Date.now();
  await queue.add("generate", { prompt: "a cat", n: 7 }, { jobId: "m-data" });
  assert.deepEqual(await layout.jobData(server.client, name, "m-data"), { prompt: "a cat", n: 7 });
  assert.equal(await layout.jobData(server.client, name, "m-missing"), undefined);
  assert.equal(await layout.jobExists(server.client, name, "m-data"), true);
  assert.equal(await layout.jobExists(server.client, name, "m-missing"), false);

  const worker = new Worker(name, async (job: Job) => {
    if (job.data.n === 8) throw new Error("no");
  }, { connection: server.connection(), prefix: layout.prefix });
  await queue.add("generate", { n: 8 }, { jobId: "m-fails" });
  await waitFor("both jobs to finish", async () => (await queue.getJobCounts("completed", "failed")).failed === 1 && (await queue.getJobCounts("completed")).completed === 1);
  await worker.close();
  assert.deepEqual(await layout.finishedSince(server.client, name, "completed", before), ["m-data"]);
  assert.deepEqual(await layout.finishedSince(server.client, name, "failed", before), ["m-fails"]);
  assert.deepEqual(await layout.finishedSince(server.client, name, "completed", Date.now() + 60000), []);
  await (await queue.getJob("m-data"))!.remove();
  assert.equal(await layout.jobExists(server.client, name, "m-data"), false, "a removed job (retention) no longer exists");
  await queue.close();
});

test("queues finds every queue under the prefix with a job once, also after its jobs are removed", async () => {
  const { layout, queue, name } = fresh();
  const other = new Queue("generate-n", { connection: server.client, prefix: layout.prefix });
  const foreign = new Queue("webhooks", { connection: server.client, prefix: layout.prefix });
  const elsewhere = new Queue("generate-m", { connection: server.client, prefix: `${layout.prefix}x` });
  await Promise.all([queue, other, foreign, elsewhere].map((q) => q.add("generate", {}, { jobId: "m-one" })));
  assert.deepEqual(await layout.queues(server.client, "generate-"), [name, "generate-n"]);
  await other.remove("m-one");
  assert.ok((await layout.queues(server.client, "generate-")).includes("generate-n"), "a queue whose jobs are all removed is still found");
  await Promise.all([queue, other, foreign, elsewhere].map((q) => q.close()));
});

test("removeFinishedBefore removes jobs finished in a state longer ago than the grace, as queue.clean does", async () => {
  const { layout, queue, name } = fresh();
  const worker = new Worker(name, async (job: Job) => {
    if (job.data.fail) throw new Error("no");
  }, { connection: server.connection(), prefix: layout.prefix });
  await queue.add("generate", {}, { jobId: "m-done" });
  await queue.add("generate", { fail: true }, { jobId: "m-failed" });
  await waitFor("both jobs to finish", async () => {
    const c = await queue.getJobCounts("completed", "failed");
    return c.completed === 1 && c.failed === 1;
  });
  await worker.close();
  const events = async () => ((await server.client.xrange(layout.events(name), "-", "+")) as [string, string[]][]).length;
  const before = await events();
  assert.deepEqual(await layout.removeFinishedBefore(server.client, queue, "completed", 3_600_000, 100), [], "finished within the grace: kept");
  assert.equal(await events(), before, "nothing to remove appends no cleaned event");
  assert.deepEqual(await layout.removeFinishedBefore(server.client, queue, "completed", 0, 100), ["m-done"]);
  assert.equal(await queue.getJob("m-done"), undefined, "the job itself is gone");
  assert.equal(await layout.jobExists(server.client, name, "m-done"), false);
  assert.ok(await queue.getJob("m-failed"), "a failed job is not a completed one");
  assert.deepEqual(await layout.removeFinishedBefore(server.client, queue, "failed", 0, 100), ["m-failed"]);
  assert.deepEqual(await queue.getJobCounts("completed", "failed"), { completed: 0, failed: 0 });
  await queue.close();
});

test("the events stream is where QueueEvents reads from, and its entries read as events", async () => {
  const { layout, queue, name } = fresh();
  const events = new QueueEvents(name, { connection: server.connection(), prefix: layout.prefix, lastEventId: "0-0" });
  const seen: { event: string; jobId: string; id: string }[] = [];
  events.on("progress", ({ jobId }, id) => void seen.push({ event: "progress", jobId, id }));
  events.on("failed", ({ jobId }, id) => void seen.push({ event: "failed", jobId, id }));
  await events.waitUntilReady();
  const worker = new Worker(name, async (job: Job) => {
    await job.updateProgress({ phase: "denoising", step: 1 });
    throw new Error('{"code":"inference_failed"}');
  }, { connection: server.connection(), prefix: layout.prefix });
  await queue.add("generate", {}, { jobId: "m-events" });
  await waitFor("QueueEvents to see the failure", () => seen.some((e) => e.event === "failed"));
  await Promise.all([worker.close(), events.close()]);

  const entries = (await server.client.xrange(layout.events(name), "-", "+")) as [string, string[]][];
  const read = entries.map(([id, flat]) => BullLayout.event(id, flat));
  for (const e of seen) {
    const entry = read.find((r) => r.id === e.id);
    assert.ok(entry, `QueueEvents' ${e.event} event ${e.id} is an entry of layout.events()`);
    assert.equal(entry.event, e.event);
    assert.equal(entry.jobId, e.jobId);
  }
  const progress = read.find((r) => r.event === "progress")!;
  assert.deepEqual(JSON.parse(progress.data!), { phase: "denoising", step: 1 });
  assert.equal(read.find((r) => r.event === "failed")!.failedReason, '{"code":"inference_failed"}');
  await queue.close();
});

test("EVENTS_MAX_LEN is the events cap BullMQ records for a queue", async () => {
  const { layout, queue, name } = fresh();
  await queue.add("generate", {});
  assert.equal(Number(await server.client.hget(`${layout.prefix}:${name}:meta`, "opts.maxLenEvents")), BullLayout.EVENTS_MAX_LEN);
  await queue.close();
});

test("a job whose worker died past the stalled limit fails with the reason isStalledReason knows", async () => {
  const { layout, queue, name } = fresh();
  const opts = { prefix: layout.prefix, lockDuration: 1000, stalledInterval: 300, maxStalledCount: 0 };
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  const dying = new Worker(name, () => held, { ...opts, connection: server.connection() });
  await queue.add("generate", {}, { jobId: "m-stalls" });
  await waitFor("the job to start", async () => (await queue.getJobState("m-stalls")) === "active");
  await dying.close(true); // stops renewing the lock without finishing the job, as a killed process would
  const checker = new Worker(name, async () => undefined, { ...opts, connection: server.connection() });
  await waitFor("stalled recovery to fail the job", async () => (await queue.getJobState("m-stalls")) === "failed", 20000);
  await checker.close();
  release();
  const reason = (await queue.getJob("m-stalls"))!.failedReason;
  assert.ok(BullLayout.isStalledReason(reason), `BullMQ's stalled reason is recognised: ${reason}`);
  assert.ok(!BullLayout.isStalledReason('{"code":"cancelled","message":"x","retryable":false}'));
  await queue.close();
});

test("fieldsOf reads flat replies without reaching the object prototype", () => {
  const f = fieldsOf(["constructor", "x", "length", "3"]);
  assert.equal(f.constructor, "x");
  assert.equal(f.length, "3");
  assert.equal(fieldsOf(["a"]).a, undefined);
});
