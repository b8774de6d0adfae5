import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { testEnv } from "@videosdgx/shared/testing";

export const CLI_MAIN = fileURLToPath(new URL("../main.js", import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The CLI as a real process, its environment built from scratch (testEnv) plus `env`. `timeoutMs` is a
 * hang guard, not a speed check: an export runs Python for minutes on a loaded machine.
 */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_MAIN, ...args], { env: testEnv(env), maxBuffer: 16 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every stdout line of a `--json` run, parsed (throws on a line that is not JSON). */
export const jsonLines = (run: CliRun): Record<string, unknown>[] =>
  run.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
