import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { readMemInfo } from "@videosdgx/shared";
import { ManagedProcess, testEnv } from "@videosdgx/shared/testing";
import { Platform } from "./platform.js";

const GB = 1_000_000_000;
const HOG_BYTES = 4 * GB;

let p: Platform;
let needed: number;
before(async () => {
  // Declared so that the model fits in what the host has free now, but not once the hog holds 4 GB.
  needed = (await readMemInfo()).availableBytes - 2 * GB;
  p = await Platform.start({
    env: { MEMORY_BUDGET_BYTES: String(needed + GB) },
    extraTinyModels: [{ name: "tinyh", residentBytes: needed, loadPeakFactor: 1 }],
  });
  await p.startWorker("tinyh");
});
after(() => p?.stop());

/** A process outside the platform that holds (and touches) memory until it is killed. */
function startHog(bytes: number): ManagedProcess {
  const script = `const held = []; for (let i = 0; i < ${bytes / GB}; i++) held.push(Buffer.alloc(${GB}, 1)); console.log("held"); setInterval(() => held.length, 1000);`;
  return new ManagedProcess("hog", spawn(process.execPath, ["-e", script], { env: testEnv(), stdio: ["ignore", "pipe", "pipe"] }));
}

test("memory held outside the platform makes the job wait, visibly, until it is released", async () => {
  const hog = startHog(HOG_BYTES);
  try {
    await hog.waitForOutput(/held/, 60000);
    const res = await p.request("POST", "/v1/jobs", { model: "tinyh", prompt: "squeezed", width: 64, height: 64, num_frames: 5, steps: 2, seed: 1 });
    const waiting = await p.waitForJob(res.body.id, (j) => j.progress.phase === "waiting_for_memory", 30000);
    assert.equal(waiting.status, "running");
    assert.equal(waiting.progress.memory.needed_bytes, needed);
    assert.ok(waiting.progress.memory.available_bytes < needed);
    assert.match(waiting.progress.memory.message, /held outside the platform/);
    const metrics = await p.request("GET", "/metrics");
    assert.ok((metrics.body as string).split("\n").includes(`vdgx_jobs_waiting_for_memory{host="${waiting.progress.memory.host}",model="tinyh"} 1`), metrics.body);

    await hog.stop("SIGKILL");
    const done = await p.waitForTerminal(res.body.id, 60000);
    assert.equal(done.status, "completed");
    assert.ok(done.timings.wait_for_memory_ms > 0);
  } finally {
    await hog.stop("SIGKILL");
  }
});
