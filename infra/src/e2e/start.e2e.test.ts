import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { connect } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { spawn } from "node:child_process";
import { ManagedProcess, freePort, makeTempDir, testEnv, waitFor } from "@videosdgx/shared/testing";

/** The checkout's root, where a newcomer types `npm start`. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });

test("npm start with no configuration: own Redis with AOF, tiny model, API, worker; SIGTERM stops them all", async (t) => {
  const { dir, remove } = await makeTempDir("vdgx-start");
  t.after(remove);
  const [port, redisPort] = [await freePort(), await freePort()];
  const env = testEnv({ DATA_DIR: dir, PORT: String(port), OWN_REDIS_PORT: String(redisPort) });
  // The README's command itself, stopped the way a service manager stops it: SIGTERM to npm.
  const start = new ManagedProcess("npm start", spawn("npm", ["start"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] }));
  t.after(() => start.stop("SIGKILL"));
  const base = `http://127.0.0.1:${port}`;

  await start.waitForOutput(/Dashboard\s+http:\/\/127\.0\.0\.1:\d+\/admin\/queues/, 60000);
  assert.match(start.output, /Docs\s+http:\/\/127\.0\.0\.1:\d+\/docs/);
  // The page a person looks at, first.
  const studio = start.output.match(/Studio\s+(http:\/\/127\.0\.0\.1:\d+\/)\n/)?.[1];
  assert.equal(studio, `${base}/`, start.output);
  await waitFor("readyz 200", () => fetch(`${base}/readyz`).then((r) => r.status === 200, () => false), 60000);
  assert.ok((await stat(path.join(dir, "models/tiny/transformer/model.onnx"))).size > 0);
  assert.ok((await stat(path.join(dir, "redis/appendonlydir"))).isDirectory(), "AOF under DATA_DIR");

  const res = await fetch(`${base}/v1/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", prompt: "first light", width: 64, height: 64, num_frames: 5, steps: 2 }),
  });
  assert.equal(res.status, 202);
  const { id } = (await res.json()) as { id: string };
  const job = await waitFor("job completed", async () => {
    const j = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as { status: string };
    return j.status === "completed" ? j : undefined;
  }, 60000);
  assert.equal(job.status, "completed");
  assert.ok((await stat(path.join(dir, "outputs", `${id}.mp4`))).size > 0);

  start.child.kill("SIGTERM");
  const exit = await start.exited;
  assert.equal(exit.code, 0, start.output.slice(-2000));
  assert.equal(await portOpen(port), false, "API stopped");
  assert.equal(await portOpen(redisPort), false, "Redis stopped");
});
