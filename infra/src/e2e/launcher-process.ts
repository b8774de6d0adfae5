import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ManagedProcess, testEnv } from "@videosdgx/shared/testing";

/** The launcher `npm start` execs. */
export const START_MAIN = fileURLToPath(new URL("../start.js", import.meta.url));
const ROOT = path.resolve(path.dirname(START_MAIN), "..", "..");

/** A launcher run the way a service manager runs it: its own process group, the environment built from scratch. */
export function spawnLauncher(env: Record<string, string>, name = "start"): ManagedProcess {
  const child = spawn(process.execPath, [START_MAIN], { cwd: ROOT, env: testEnv(env), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  return new ManagedProcess(name, child);
}

/** kill -9 of the launcher's whole process group (its API, webhooks and workers with it). */
export function killGroup(p: ManagedProcess): Promise<unknown> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.resolve();
  try {
    process.kill(-p.pid, "SIGKILL");
  } catch {
    // already gone
  }
  return p.exited;
}
