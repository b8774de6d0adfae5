import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { access } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { ManagedProcess, TestSentinelSet, freePort, makeTempDir, testEnv, waitFor } from "@videosdgx/shared/testing";

const START_MAIN = fileURLToPath(new URL("../start.js", import.meta.url));

test("the launcher with REDIS_SENTINELS runs no Redis of its own, and its processes take jobs through password-protected sentinels", async (t) => {
  const { dir, remove } = await makeTempDir("vdgx-start-sentinel");
  t.after(remove);
  // The data nodes and the sentinels each require a password: every connection of every process must auth.
  const [password, sentinelPassword] = ["data-nodes-secret-7f3a", "sentinels-secret-91c2"];
  const set = await TestSentinelSet.start(path.join(dir, "sentinel-set"), { password, sentinelPassword });
  t.after(() => set.stop());
  const [port, ownRedisPort] = [await freePort(), await freePort()];
  // No REDIS_MIN_REPLICAS_ACK: under Sentinel it defaults to 1, so the 202 below waits for the replica.
  const env = testEnv({ ...set.env, DATA_DIR: path.join(dir, "data"), PORT: String(port), OWN_REDIS_PORT: String(ownRedisPort) });
  const start = new ManagedProcess("start", spawn(process.execPath, [START_MAIN], { env, stdio: ["ignore", "pipe", "pipe"] }));
  t.after(() => start.stop("SIGKILL"));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`readyz 200\n${start.output}`, () => fetch(`${base}/readyz`).then((r) => r.status === 200, () => false), 90000);
  assert.doesNotMatch(start.output, /redis started/);
  await assert.rejects(access(path.join(dir, "data", "redis")), "no Redis data dir of its own");

  const res = await fetch(`${base}/v1/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", prompt: "through sentinel", width: 64, height: 64, num_frames: 5, steps: 2 }),
  });
  assert.equal(res.status, 202, "acknowledged once the replica holds it");
  assert.match(start.output, /"replicas_to_acknowledge":1/, "the API waits for one replica by default");
  const { id } = (await res.json()) as { id: string };
  await waitFor("the job to complete", async () => ((await (await fetch(`${base}/v1/jobs/${id}`)).json()) as { status: string }).status === "completed", 60000);

  start.child.kill("SIGTERM");
  assert.equal((await start.exited).code, 0, start.output.slice(-2000));
  for (const secret of [password, sentinelPassword]) assert.ok(!start.output.includes(secret), "no log line shows a password");
});
