import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { CliExitCode } from "@videosdgx/shared";
import { makeTempDir, testEnv } from "@videosdgx/shared/testing";
import { runCli } from "../testing/run-cli.js";

const exporter = path.join(path.dirname(createRequire(import.meta.url).resolve("@videosdgx/exporter/package.json")), "scripts/run.sh");

describe("models export through the Python exporter", () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let modelsDir: string;
  let checkpoint: string;
  before(async () => {
    tmp = await makeTempDir("vdgx-export");
    modelsDir = path.join(tmp.dir, "models");
    checkpoint = path.join(tmp.dir, "checkpoint");
    // diffusers' own Wan 2.1 classes at a tiny size with seeded weights, saved as WanPipeline saves them.
    await promisify(execFile)("bash", [exporter, "replica", "--out", checkpoint], { env: testEnv({}), maxBuffer: 16 << 20 });
  });
  after(() => tmp.remove());
  const env = () => ({ DATA_DIR: tmp.dir, MODELS_DIR: modelsDir });

  test("a Wan checkpoint becomes a folder that verify --run turns into a video", async () => {
    const exported = await runCli(["models", "export", "wan21", "--from", checkpoint, "--dtype", "fp32", "--limits", "replica", "--json"], env());
    assert.equal(exported.code, 0, exported.stderr);
    const result = JSON.parse(exported.stdout) as { dir: string; report: unknown };
    assert.equal(result.dir, path.join(modelsDir, "wan21"));
    const verified = await runCli(["models", "verify", "wan21", "--run", "--json"], env());
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const report = JSON.parse(verified.stdout) as { ok: boolean; run: { video: { codec: string; frames: number } } };
    assert.equal(report.ok, true);
    assert.equal(report.run.video.codec, "h264");
    assert.ok(report.run.video.frames > 0);
  });

  test("a checkpoint without its transformer is refused with the reason and nothing is left in MODELS_DIR", async () => {
    const broken = path.join(tmp.dir, "broken");
    await cp(checkpoint, broken, { recursive: true });
    await rm(path.join(broken, "transformer"), { recursive: true });
    const r = await runCli(["models", "export", "wan21", "--from", broken, "--limits", "replica"], { ...env(), MODELS_DIR: path.join(tmp.dir, "models2") });
    assert.equal(r.code, CliExitCode.usage, r.stderr);
    assert.match(r.stderr, /transformer/);
    assert.match(r.stderr, /nothing was moved into/);
    assert.deepEqual(await readdir(path.join(tmp.dir, "models2")).catch(() => []), []);
  });

  test("no checkpoint, or a family the exporter has no export for, is said before any Python runs", async () => {
    const missing = await runCli(["models", "export", "wan21"], { ...env(), MODELS_DIR: path.join(tmp.dir, "empty") });
    assert.equal(missing.code, CliExitCode.usage);
    assert.match(missing.stderr, /no checkpoint at .*\.checkpoints\/wan21: run `npm run models -- pull wan21` first/);
    const unsupported = await runCli(["models", "export", "magi1", "--from", checkpoint], env());
    assert.equal(unsupported.code, CliExitCode.usage);
    assert.match(unsupported.stderr, /the exporter has no magi export yet \(it exports: wan\)/);
  });
});
