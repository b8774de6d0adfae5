import assert from "node:assert/strict";
import { test } from "node:test";
import { Queue } from "bullmq";
import { redisForTests } from "../testing/unit-redis.js";
import { waitFor } from "../testing/wait.js";
import { GENERATE_JOB, generateQueue, type JobData } from "./generate-queue.js";
import { failureReason, readFailure } from "./job-failure.js";
import { openQueue, startWorker } from "./queue-contract.js";

const server = redisForTests("queue-contract");

const valid: JobData = {
  model: "tiny", prompt: "a cat", negative_prompt: "", width: 64, height: 64, num_frames: 9, fps: 8, duration_s: 1.125, steps: 4, guidance: 1, seed: 7,
};

test("a worker built from the contract runs valid jobs with their parsed data and fails foreign ones once, as invalid_job_data", async () => {
  const prefix = "contract";
  const name = "generate-tiny";
  const queue = openQueue(generateQueue, name, { connection: server.client, prefix });
  const ran: JobData[] = [];
  const worker = startWorker(generateQueue, name, async (_job, data) => {
    ran.push(data);
    return { video_file: "x.mp4", width: 64, height: 64, num_frames: 9, fps: 8, duration_s: 1.125, bytes: 1, sha256: "00", timings: {} };
  }, { connection: server.connection(), prefix });

  await queue.add(GENERATE_JOB, valid, { jobId: "tiny-ok", attempts: 3 });
  // Jobs outlive deploys: a payload of an older version (steps as text, no seed) and a foreign job name.
  const raw = new Queue(name, { connection: server.client, prefix });
  await raw.add(GENERATE_JOB, { ...valid, steps: "4", seed: undefined }, { jobId: "tiny-old", attempts: 3 });
  await raw.add("render", valid, { jobId: "tiny-foreign", attempts: 3 });
  await waitFor("every job to finish", async () => {
    const c = await queue.getJobCounts("completed", "failed");
    return c.completed === 1 && c.failed === 2;
  });
  await worker.close();

  assert.deepEqual(ran, [valid]);
  const old = (await queue.getJob("tiny-old"))!;
  assert.equal(old.attemptsMade, 1, "an invalid payload is not retried");
  const oldFailure = readFailure(old.failedReason);
  assert.equal(oldFailure.code, "invalid_job_data");
  assert.match(oldFailure.message, /steps: .*number/);
  assert.match(oldFailure.message, /seed: /);
  const foreign = readFailure((await queue.getJob("tiny-foreign"))!.failedReason);
  assert.equal(foreign.code, "invalid_job_data");
  assert.match(foreign.message, /job name "render" is not one of generate/);
  await Promise.all([queue.close(), raw.close()]);
});

test("a failure's code and message travel as data; BullMQ's own reasons and unreadable ones are named", () => {
  const message = "could not allocate: 4 GB: more (colons and\nnewlines survive)";
  assert.deepEqual(readFailure(failureReason({ code: "out_of_memory", message, retryable: true })), { code: "out_of_memory", message });
  assert.equal(readFailure("job stalled more than allowable limit").code, "worker_lost");
  assert.deepEqual(readFailure("something else"), { code: "internal_error", message: "something else" });
  assert.deepEqual(readFailure('{"code":"not_ours","message":"x","retryable":true}'), { code: "internal_error", message: '{"code":"not_ours","message":"x","retryable":true}' });
  assert.equal(readFailure(undefined).code, "internal_error");
});
