import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { makeTempDir } from "@videosdgx/shared/testing";
import { checkEnvironment } from "./environment-check.js";

test("the write probe leaves nothing in OUTPUTS_DIR, and removes one a killed worker left", async (t) => {
  const { dir, remove } = await makeTempDir("vdgx-env-check");
  t.after(remove);
  // A pid that has exited: the probe a worker killed mid-write would have left.
  const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
  await writeFile(path.join(dir, `.write-probe-${dead}`), "left");
  await writeFile(path.join(dir, "a-video.mp4"), "kept");
  const check = await checkEnvironment({ outputsDir: dir, minFreeBytes: 0, ffmpegPath: undefined, searchPath: () => "/usr/local/bin:/usr/bin:/bin", store: { check: async () => undefined } });
  assert.equal(check.ok, true, JSON.stringify(check));
  assert.deepEqual(await readdir(dir), ["a-video.mp4"]);
});
