import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { StageRun } from "./family.js";

/* What the parity tests of every family (ours against diffusers' pipelines) share: the exporter's CLI and the comparison. */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const exporter = path.join(root, "exporter/scripts/run.sh");
const run = promisify(execFile);

/** The exporter's CLI in its venv, with an environment built from scratch. */
export async function exporterCli(...args: string[]): Promise<void> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  if (process.env.VDGX_PYTHON) env.VDGX_PYTHON = process.env.VDGX_PYTHON;
  await run("bash", [exporter, ...args], { env, maxBuffer: 16 << 20 });
}

export const noStages: StageRun = { stage: (_phase, _key, fn) => fn(), step: async () => {} };

/** Largest difference in levels, and the share of values exactly one level off. */
export function levels(a: Uint8Array, b: Uint8Array): { max: number; offByOne: number } {
  assert.equal(a.length, b.length);
  let max = 0;
  let offByOne = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    if (d === 1) offByOne++;
  }
  return { max, offByOne: offByOne / a.length };
}
