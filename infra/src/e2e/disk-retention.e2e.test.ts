import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { previewFileOf, queueName } from "@videosdgx/shared";
import { waitFor } from "@videosdgx/shared/testing";
import { finishedOutputs, Platform } from "./platform.js";

/**
 * OUTPUT_STORE=fs (the default): once BullMQ has removed a job, the retention sweep removes its files from
 * OUTPUTS_DIR (video, poster, preview), so a long-running host's disk holds only the jobs it still lists.
 */
let p: Platform;
before(async () => {
  p = await Platform.start({ env: { OUTPUT_SWEEP_SECONDS: "1", PREVIEW_EVERY_STEPS: "1" } });
  await p.startWorker("tiny");
});
after(() => p?.stop());

async function completed(seed: number): Promise<{ id: string; result: { video_url: string } }> {
  const res = await p.request("POST", "/v1/jobs", { model: "tiny", prompt: `a disk job ${seed}`, width: 64, height: 64, num_frames: 5, steps: 2, seed });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const job = await p.waitForTerminal(res.body.id);
  assert.equal(job.status, "completed", JSON.stringify(job.error));
  return job;
}

test("retention: once BullMQ has removed a job, the sweep removes its files from OUTPUTS_DIR; other files stay", async () => {
  const gone = await completed(1);
  const kept = await completed(2);
  const filesOf = (id: string, all: string[]) => all.filter((f) => f.startsWith(`${id}.`));
  const withPreview = (id: string) => [...finishedOutputs([id]), previewFileOf(id)].sort();
  assert.deepEqual(filesOf(gone.id, await p.outputFiles()), withPreview(gone.id));
  // Files no job id names (an operator's note) are not the sweep's.
  await writeFile(path.join(p.outputsDir, "README.txt"), "kept\n");
  const redis = new Redis(p.env.REDIS_URL!);
  const queue = new Queue(queueName("tiny"), { connection: redis, prefix: p.env.QUEUE_PREFIX });
  try {
    // What removeOnComplete does past KEEP_COMPLETED_SECONDS / KEEP_COMPLETED_JOBS: the job is removed.
    assert.equal(await queue.remove(gone.id), 1);
    await waitFor("the removed job's files to be swept", async () => (filesOf(gone.id, await p.outputFiles()).length === 0 ? true : undefined), 30000);
    const left = await p.outputFiles();
    assert.deepEqual(filesOf(kept.id, left), withPreview(kept.id));
    assert.ok(left.includes("README.txt"), left.join(", "));
    assert.equal((await p.request("GET", gone.result.video_url)).status, 404);
    assert.equal((await p.request("GET", kept.result.video_url)).status, 200);
  } finally {
    await queue.close();
    redis.disconnect();
  }
});
