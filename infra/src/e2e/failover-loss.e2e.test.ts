import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { BullLayout, queueName } from "@videosdgx/shared";
import type { TestSentinelSet } from "@videosdgx/shared/testing";
import { finishedOutputs, type Platform } from "./platform.js";
import type { WebhookReceiver } from "./webhook-receiver.js";
import { startFailoverRig, stopFailoverRig, type FailoverRig } from "./failover-rig.js";

// The loss the README states ("What a failover can still lose"), made on purpose: a worker's completion
// written on the primary alone, then the primary killed. REDIS_MIN_REPLICAS_ACK is left to its Sentinel
// default (1), so the submission is acknowledged by the replica before it is cut off.
let set: TestSentinelSet;
let p: Platform;
let receiver: WebhookReceiver;
let rig: FailoverRig;
before(async () => {
  rig = await startFailoverRig();
  ({ p, set, receiver } = rig);
});
after(() => stopFailoverRig(rig));

/** The job.completed messages the receiver got for a job, in order of arrival. */
function completedMessages(jobId: string): { webhookId: string; data: { finished_at: string; attempts: number } }[] {
  return receiver.on("/done").flatMap((r) => {
    const body = JSON.parse(r.body) as { type: string; data: { id: string; finished_at: string; attempts: number } };
    return body.type === "job.completed" && body.data.id === jobId ? [{ webhookId: String(r.headers["webhook-id"]), data: body.data }] : [];
  });
}

test("a completion the replica never got is lost in a failover: the job runs again, completes once, one video, a new webhook-id", async (t) => {
  // Long enough (several seconds on this machine) that it is still running once its replica is cut off.
  const job = { model: "tiny", prompt: "a lost completion", width: 256, height: 256, num_frames: 65, steps: 1000, seed: 5, webhook: { url: receiver.url("/done"), events: ["completed"] } };
  const submitted = await p.request("POST", "/v1/jobs", job);
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const id = submitted.body.id as string;
  await p.waitForJob(id, (j) => j.status === "running" && j.progress.step >= 1, 60000);

  // From here on, the worker's writes reach the primary alone: its progress, its completion, the webhook outbox.
  const replica = await set.isolateReplica();
  const cutAt = Date.now();
  const cut = await p.request("GET", `/v1/jobs/${id}`);
  assert.equal(cut.body.status, "running", `the job finished before its replica was cut off (make it longer): ${JSON.stringify(cut.body)}`);
  const first = await p.waitForTerminal(id, 60000);
  assert.equal(first.status, "completed", JSON.stringify(first));
  assert.equal(first.attempts, 1);
  t.diagnostic(`the first run completed ${Date.parse(first.finished_at) - cutAt} ms after its replica was cut off`);
  await receiver.waitFor("the first run's job.completed message", () => completedMessages(id).length === 1, 30000);

  const old = await set.killPrimary();
  set.resume(replica);
  const redis = new Redis(`redis://127.0.0.1:${replica}`);
  // Only reads: a replica refuses the meta write a Queue makes at start.
  const queue = new Queue(queueName("tiny"), { connection: redis, prefix: p.env.QUEUE_PREFIX!, skipMetasUpdate: true });
  const completedEvents = async () => {
    const entries = (await redis.xrange(new BullLayout(p.env.QUEUE_PREFIX!).events(queueName("tiny")), "-", "+")) as [string, string[]][];
    return entries.map(([eid, flat]) => BullLayout.event(eid, flat)).filter((e) => e.event === "completed" && e.jobId === id).length;
  };
  try {
    // The replica holds the job as it last saw it: started, its first attempt, no completion. Read while it is
    // still a replica (Sentinel takes down-after-milliseconds to promote it), so no worker can have written to
    // it yet: once promoted, the workers' stalled check may re-run the job at once.
    assert.match(await redis.info("replication"), /^role:slave$/m, "read before the promotion");
    const lost = (await queue.getJob(id))!;
    assert.equal(lost.finishedOn, undefined, "the completion did not survive the failover");
    assert.equal(lost.returnvalue, null);
    assert.equal(lost.attemptsStarted, 1);
    assert.equal(await completedEvents(), 0);
    assert.equal(await set.waitForFailover(old), replica, "the cut-off replica is promoted");

    // The stalled check puts it back (nobody renews its lock) and it runs again to a completion of its own.
    const final = await p.waitForJob(id, (j) => j.status === "completed" && j.finished_at !== first.finished_at, 90000);
    assert.equal(final.attempts, 2, "a second run");
    assert.equal((await queue.getJob(id))!.stalledCounter, 1, "re-run by the stalled check");
    assert.equal(await completedEvents(), 1, "completed once on the new primary");

    // One video, the re-run's: its output is named by the job id and replaced whole.
    assert.deepEqual(await p.outputFiles(), finishedOutputs([id]));
    const video = await readFile(path.join(p.outputsDir, `${id}.mp4`));
    assert.equal(createHash("sha256").update(video).digest("hex"), final.result.sha256);

    // The first run's message was delivered before its completion was lost; the re-run sends its own,
    // with a new webhook-id (a terminal message's id carries the run's end).
    await receiver.waitFor("the re-run's job.completed message", () => completedMessages(id).length === 2, 30000);
    const [a, b] = completedMessages(id);
    assert.deepEqual([a!.data.finished_at, a!.data.attempts], [first.finished_at, 1]);
    assert.deepEqual([b!.data.finished_at, b!.data.attempts], [final.finished_at, 2]);
    assert.equal(a!.webhookId, `msg_${id}_completed_${Date.parse(first.finished_at)}`);
    assert.equal(b!.webhookId, `msg_${id}_completed_${Date.parse(final.finished_at)}`);
  } finally {
    await queue.close();
    redis.disconnect();
  }
});
