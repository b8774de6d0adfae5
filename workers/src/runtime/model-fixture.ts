import assert from "node:assert/strict";
import { cp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before } from "node:test";
import type { Timings } from "@videosdgx/shared";
import { makeTempDir } from "@videosdgx/shared/testing";
import type { StageRun } from "../families/family.js";
import { loadModel, type LoadedModel } from "./loaded-model.js";

/**
 * For a test file: a generated model folder in a temporary models dir (made before the tests, removed
 * after them with every model loaded through it), and copies of it under other names.
 */
export function generatedModelFixture(name: string, generate: (dir: string) => Promise<void>) {
  let dir = "";
  let remove = async () => {};
  const loaded: LoadedModel[] = [];
  before(async () => {
    ({ dir, remove } = await makeTempDir(name));
    await generate(path.join(dir, name));
  });
  after(async () => {
    await Promise.all(loaded.map((m) => m.release()));
    await remove();
  });
  return {
    get dir() {
      return dir;
    },
    async load(model: string): Promise<LoadedModel> {
      const m = await loadModel(dir, model, {});
      loaded.push(m);
      return m;
    },
    /** A copy of the folder under another name (its manifest renamed), changed by `change`. */
    async variant(copy: string, change: (folder: string) => Promise<void>): Promise<string> {
      const folder = path.join(dir, copy);
      await cp(path.join(dir, name), folder, { recursive: true });
      const manifest = path.join(folder, "videosdgx.json");
      await writeFile(manifest, (await readFile(manifest, "utf8")).replace(`"name": "${name}"`, `"name": "${copy}"`));
      await change(folder);
      return folder;
    },
  };
}

/** A StageRun that only times the stages, for driving a pipeline without a job. */
export const timedRun = (timings: Timings = {}): StageRun => ({
  stage: async (_phase, key, fn) => {
    const started = performance.now();
    const out = await fn();
    timings[key] = performance.now() - started;
    return out;
  },
  step: async () => {},
});

/** Largest and mean absolute difference of two frame buffers of one size. */
export function frameDiff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  assert.equal(a.length, b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}
