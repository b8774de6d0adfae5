import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { ExitCode, type Logger } from "@videosdgx/shared";
import { makeTempDir, testEnv, waitFor } from "@videosdgx/shared/testing";
import { Supervisor } from "./supervisor.js";

/** A logger that keeps the messages, for asserting what the supervisor said. */
function recordingLog(): { log: Logger; logged: string[] } {
  const logged: string[] = [];
  const record = (msg: string) => logged.push(msg);
  const log: Logger = { debug: record, info: record, warn: record, error: record, child: () => log };
  return { log, logged };
}

test("a child that exits with the recycle code is started again at once, and stays", async (t) => {
  const { dir, remove } = await makeTempDir("vdgx-supervisor");
  t.after(remove);
  const runs = path.join(dir, "runs");
  // First run: recycle itself. Later runs: keep running like a healthy worker.
  const script = `const fs = require("fs"); fs.appendFileSync(${JSON.stringify(runs)}, "x");
    if (fs.readFileSync(${JSON.stringify(runs)}, "utf8").length === 1) process.exit(${ExitCode.recycle});
    setInterval(() => {}, 1000);`;
  const { log, logged } = recordingLog();
  const supervisor = new Supervisor(log);
  t.after(() => supervisor.stopAll(5000));

  supervisor.start({ name: "worker-x", command: process.execPath, args: ["-e", script], env: testEnv() });
  await waitFor("the restarted child", async () => (await readFile(runs, "utf8").catch(() => "")).length === 2);
  assert.deepEqual(logged, ["child recycled itself to give memory back; restarting it now"]);
});

test("an essential child that refuses to start (configuration exit code) is reported as fatal, not restarted", async (t) => {
  const { log, logged } = recordingLog();
  let fatal: (name: string) => void = () => undefined;
  const reported = new Promise<string>((resolve) => (fatal = resolve));
  const supervisor = new Supervisor(log, (name) => fatal(name));
  t.after(() => supervisor.stopAll(5000));

  const refuse = `process.exit(${ExitCode.config})`;
  supervisor.start({ name: "api", command: process.execPath, args: ["-e", refuse], env: testEnv(), essential: true });
  assert.equal(await reported, "api");
  assert.deepEqual(logged, ["child refused to start (configuration); not restarting it"]);
});
