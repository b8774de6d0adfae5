import assert from "node:assert/strict";
import { appendFile, stat } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { CliExitCode } from "@videosdgx/shared";
import { TestRedis, freePort, makeTempDir, spawnNode, type ManagedProcess } from "@videosdgx/shared/testing";
import { generateTinyModel } from "@videosdgx/workers/tiny";
import { runCli } from "../testing/run-cli.js";

const WORKER_MAIN = fileURLToPath(new URL("../../../workers/dist/main.js", import.meta.url));

describe("models verify and rm on real folders", () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let modelsDir: string;
  before(async () => {
    tmp = await makeTempDir("vdgx-verify");
    modelsDir = path.join(tmp.dir, "models");
    await generateTinyModel(path.join(modelsDir, "tiny"));
    await generateTinyModel(path.join(modelsDir, "tinybad"), { name: "tinybad" });
  });
  after(() => tmp.remove());
  const env = (extra: Record<string, string> = {}) => ({ DATA_DIR: tmp.dir, MODELS_DIR: modelsDir, ...extra });

  test("verify --run on the tiny model: structure and hashes ok, and a two-step MP4 of the smallest valid size", async () => {
    const r = await runCli(["models", "verify", "tiny", "--run", "--json"], env());
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: { check: string; ok: boolean }[]; run: { params: Record<string, number>; video: Record<string, unknown> } };
    assert.equal(report.ok, true);
    assert.deepEqual(report.checks.map((c) => [c.check, c.ok]), [["structure", true], ["hashes", true], ["run", true]]);
    // tiny: frames 4k+1 from 5, sizes multiples of 16 from 32: the smallest valid video is 5 frames of 32x32.
    assert.deepEqual(report.run.params, { width: 32, height: 32, num_frames: 5, fps: 16, steps: 2, seed: 42 });
    assert.equal(report.run.video.codec, "h264");
    assert.equal(report.run.video.pix_fmt, "yuv420p");
    assert.equal(report.run.video.frames, 5);
    assert.equal(report.run.video.width, 32);
    assert.equal(report.run.video.fps, 16);
  });

  test("verify on a damaged copy fails naming the file; a sound structure does not hide it", async () => {
    await appendFile(path.join(modelsDir, "tinybad", "model_index.json"), "\n");
    const r = await runCli(["models", "verify", "tinybad"], env());
    assert.equal(r.code, CliExitCode.failed);
    assert.match(r.stdout, /ok\s+structure/);
    assert.match(r.stderr, /tinybad .* failed verification: hashes: model_index\.json does not match its recorded sha256/);
    const unknown = await runCli(["models", "verify", "nosuch"], env());
    assert.equal(unknown.code, CliExitCode.usage);
    assert.match(unknown.stderr, /unknown model "nosuch"/);
  });

  test("rm is refused while a live worker serves the model, and when Redis cannot say; then removes the folder", async () => {
    const redis = await TestRedis.start(path.join(tmp.dir, "redis"));
    let worker: ManagedProcess | undefined;
    try {
      const redisEnv = env({ REDIS_URL: redis.url, QUEUE_PREFIX: "rmtest" });
      worker = spawnNode("worker-tiny", WORKER_MAIN, { ...redisEnv, OUTPUTS_DIR: path.join(tmp.dir, "outputs") }, ["--model", "tiny"]);
      await worker.waitForOutput(/worker ready/);
      const refused = await runCli(["models", "rm", "tiny"], redisEnv);
      assert.equal(refused.code, CliExitCode.inUse, refused.stderr);
      assert.match(refused.stderr, new RegExp(`tiny is in use by 1 live worker\\(s\\): \\S+ \\(pid ${worker.pid} on `));
      await stat(path.join(modelsDir, "tiny"));

      const noRedis = await runCli(["models", "rm", "tiny"], env({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }));
      assert.equal(noRedis.code, CliExitCode.inUse);
      assert.match(noRedis.stderr, /cannot tell whether a worker has tiny loaded: Redis at .* is unreachable .* pass --force/);

      await worker.stop();
      const removed = await runCli(["models", "rm", "tiny", "--json"], redisEnv);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal((JSON.parse(removed.stdout) as { removed: string }).removed, path.join(modelsDir, "tiny"));
      await assert.rejects(stat(path.join(modelsDir, "tiny")));

      const forced = await runCli(["models", "rm", "tinybad", "--force"], env({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` }));
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stderr, /unreachable .* removed anyway \(--force\)/);
    } finally {
      await worker?.stop();
      await redis.kill("SIGTERM");
    }
  });
});
