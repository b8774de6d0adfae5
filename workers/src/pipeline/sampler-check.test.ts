import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "@videosdgx/shared/testing";

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(here, "..", "..", "..");
const CLI = path.join(here, "sampler-check.js");
/** Computed by diffusers itself; the CI clone has the shared folder beside the repository. */
const SHARED_GOLDEN = path.resolve(REPO_ROOT, "..", "shared", "reference", "golden", "schedulers.json");
/** UniPC variants the shared file lacks, also run by diffusers (testdata/make-unipc-cases.py). */
const UNIPC_EXTRA = path.join(REPO_ROOT, "workers", "src", "pipeline", "testdata", "unipc-diffusers-cases.json");

function sharedGolden(): string {
  if (!existsSync(SHARED_GOLDEN)) {
    assert.fail(`the scheduler test vectors are missing: expected ${SHARED_GOLDEN} (../shared beside the repository)`);
  }
  return SHARED_GOLDEN;
}

function check(file: string) {
  const r = spawnSync(process.execPath, [CLI, file], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI's line for a case: "ok" or "OFF", its name, then its deviations. */
const lineOf = (stdout: string, name: string) => stdout.split("\n").find((l) => l.split(/\s+/)[1] === name);

test("both samplers reproduce diffusers' shared golden runs: every case listed and within tolerance", async () => {
  const file = sharedGolden();
  const cases = Object.keys(JSON.parse(await readFile(file, "utf8")));
  const { code, stdout, stderr } = check(file);
  assert.equal(code, 0, stdout + stderr);
  for (const name of cases) assert.match(lineOf(stdout, name) ?? "", /^ok /, `${name} in:\n${stdout}`);
  assert.ok(cases.some((n) => n.includes("unipc")) && cases.some((n) => n.includes("euler")), "both classes covered");
});

test("UniPC orders 1-3, bh1, sigma_min, lower_order_final off and disable_corrector match diffusers", () => {
  const { code, stdout, stderr } = check(UNIPC_EXTRA);
  assert.equal(code, 0, stdout + stderr);
  assert.match(stdout, /8 of 8 cases match/);
});

async function corrupted(dir: string, change: (cases: Record<string, { final: number[]; timesteps: number[] }>) => string) {
  const cases = JSON.parse(await readFile(sharedGolden(), "utf8"));
  const name = change(cases);
  const file = path.join(dir, "corrupted.json");
  await writeFile(file, JSON.stringify(cases));
  return { name, ...check(file) };
}

test("a case with one final value or one timestep changed is reported off and exits 1", async () => {
  const { dir, remove } = await makeTempDir("vdgx-sampler-check");
  try {
    const finalOff = await corrupted(dir, (cases) => {
      const name = Object.keys(cases).find((n) => n.includes("unipc"))!;
      cases[name]!.final[17]! += 2e-5; // just past the tolerance
      return name;
    });
    assert.equal(finalOff.code, 1, finalOff.stdout);
    assert.match(lineOf(finalOff.stdout, finalOff.name) ?? "", /^OFF .*final max \|d\| 2\.0\de-5/);
    assert.equal(finalOff.stdout.split("\n").filter((l) => l.startsWith("OFF")).length, 1, "only that case is off");

    const timestepOff = await corrupted(dir, (cases) => {
      const name = Object.keys(cases).find((n) => n.includes("euler"))!;
      cases[name]!.timesteps[3]! += 0.5;
      return name;
    });
    assert.equal(timestepOff.code, 1, timestepOff.stdout);
    assert.match(lineOf(timestepOff.stdout, timestepOff.name) ?? "", /^OFF .*timesteps max \|d\| 5\.00e-1/);
  } finally {
    await remove();
  }
});

test("a case whose config is refused is off, with the reason", async () => {
  const { dir, remove } = await makeTempDir("vdgx-sampler-check");
  try {
    const r = await corrupted(dir, (cases) => {
      const name = Object.keys(cases).find((n) => n.includes("unipc"))!;
      (cases[name] as unknown as { config: Record<string, unknown> }).config.solver_order = 4;
      return name;
    });
    assert.equal(r.code, 1);
    assert.match(lineOf(r.stdout, r.name) ?? "", /^OFF .*solver_order/);
  } finally {
    await remove();
  }
});

test("a missing or malformed file is a clear message and exit 2", async () => {
  const { dir, remove } = await makeTempDir("vdgx-sampler-check");
  try {
    const missing = check(path.join(dir, "nope.json"));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*nope\.json/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /, "no stack trace");

    await writeFile(path.join(dir, "bad.json"), "{ not json");
    const notJson = check(path.join(dir, "bad.json"));
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /bad\.json is not JSON/);

    await writeFile(path.join(dir, "shape.json"), JSON.stringify({ a: { config: {}, steps: 4, n: 2, timesteps: "x", final: [] } }));
    const wrongShape = check(path.join(dir, "shape.json"));
    assert.equal(wrongShape.code, 2);
    assert.match(wrongShape.stderr, /not a golden scheduler file[\s\S]*timesteps/);

    const usage = check("");
    assert.equal(usage.code, 2);
  } finally {
    await remove();
  }
});
