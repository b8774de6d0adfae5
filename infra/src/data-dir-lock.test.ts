import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { makeTempDir, testEnv } from "@videosdgx/shared/testing";
import { DataDirLockedError, lockDataDir } from "./data-dir-lock.js";

test("a data dir is locked by one process at a time, and a SIGKILLed holder leaves no stale lock", async (t) => {
  const { dir, remove } = await makeTempDir("vdgx-lock");
  t.after(remove);
  // Another process takes the lock, says so, and is killed outright.
  const lockUrl = new URL("./data-dir-lock.js", import.meta.url).href;
  const script = `import(${JSON.stringify(lockUrl)}).then(async (m) => { await m.lockDataDir(${JSON.stringify(dir)}); console.log("locked"); setInterval(() => {}, 1000); })`;
  const holder = spawn(process.execPath, ["-e", script], { env: testEnv(), stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve) => holder.stdout.once("data", resolve));
  await assert.rejects(lockDataDir(dir), DataDirLockedError);

  holder.kill("SIGKILL");
  await new Promise((resolve) => holder.once("exit", resolve));
  const lock = await lockDataDir(dir);
  await assert.rejects(lockDataDir(dir), DataDirLockedError, "held by this process now");
  lock.close();
});
