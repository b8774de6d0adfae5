import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { CliExitCode } from "@videosdgx/shared";
import { TestRedis, freePort, makeTempDir } from "@videosdgx/shared/testing";
import { generateTinyModel } from "@videosdgx/workers/tiny";
import { runCli } from "../testing/run-cli.js";
import type { DoctorCheck } from "./check.js";

const hasNvidiaSmi = await promisify(execFile)("nvidia-smi", ["-L"]).then(() => true, () => false);

describe("npm run doctor on this machine", () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>>;
  let redis: TestRedis;
  before(async () => {
    tmp = await makeTempDir("vdgx-doctor");
    await generateTinyModel(path.join(tmp.dir, "models", "tiny"));
    redis = await TestRedis.start(path.join(tmp.dir, "redis"));
  });
  after(async () => {
    await redis.kill("SIGTERM");
    await tmp.remove();
  });
  const doctor = async (extra: Record<string, string>) => {
    const r = await runCli(["doctor", "--json"], { DATA_DIR: tmp.dir, PORT: String(await freePort()), ...extra });
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: DoctorCheck[] };
    return { ...r, report, check: (name: string) => report.checks.find((c) => c.check === name)! };
  };

  test("--json parses; a missing nvidia-smi is a warning, not a blocker; Redis with AOF and noeviction is ok", async () => {
    const r = await doctor({ REDIS_URL: redis.url });
    for (const c of r.report.checks) assert.match(c.status, /^(ok|warn|fail)$/, JSON.stringify(c));
    assert.equal(r.check("redis").status, "ok", r.check("redis").detail);
    assert.match(r.check("redis").detail, /AOF on, noeviction/);
    assert.equal(r.check("provider:cpu").status, "ok");
    assert.equal(r.check("model:tiny").status, "ok", r.check("model:tiny").detail);
    assert.equal(r.check("api").status, "warn", "no API runs on the test's port");
    assert.match(r.check("memory").detail, /MemAvailable .* largest processes: /);
    if (!hasNvidiaSmi) {
      assert.equal(r.check("gpu").status, "warn");
      assert.match(r.check("gpu").detail, /nvidia-smi is not installed/);
      assert.equal(r.check("provider:cuda").status, "warn", "cuda is not requested: its absence is said, not fatal");
    }
    const blockers = r.report.checks.filter((c) => c.status === "fail");
    assert.equal(r.code, blockers.length > 0 ? CliExitCode.failed : 0, JSON.stringify(blockers));
    assert.equal(r.report.ok, blockers.length === 0);
  });

  test("an unreachable Redis at REDIS_URL and a requested provider the binding lacks are blockers: exit 1", async () => {
    const port = await freePort();
    const r = await doctor({ REDIS_URL: `redis://127.0.0.1:${port}`, ...(hasNvidiaSmi ? {} : { ORT_EXECUTION_PROVIDERS: "cuda,cpu" }) });
    assert.equal(r.code, CliExitCode.failed);
    assert.equal(r.report.ok, false);
    assert.equal(r.check("redis").status, "fail");
    assert.match(r.check("redis").detail, new RegExp(`Redis at REDIS_URL redis://127.0.0.1:${port} is unreachable`));
    assert.ok(r.check("redis").fix);
    if (!hasNvidiaSmi) {
      assert.equal(r.check("provider:cuda").status, "fail");
      assert.match(r.check("provider:cuda").detail, /ORT_EXECUTION_PROVIDERS asks for cuda, but a session with it fails/);
    }
  });
});
