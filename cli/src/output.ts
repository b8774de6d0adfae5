import { CliExitCode } from "@videosdgx/shared";
import { CliError } from "./cli-error.js";

export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}
export function printJson(value: unknown): void {
  print(JSON.stringify(value));
}

/**
 * Runs one command and ends the process: its exit code, or the error's. With `--json` the error is one JSON
 * line on stdout too (`{"error": {"code", "message"}}`); the message always goes to stderr. An unexpected
 * error is reported by its message alone.
 */
export async function runCommand(json: boolean, action: () => Promise<number | void>): Promise<never> {
  let code: number;
  try {
    code = (await action()) ?? 0;
  } catch (err) {
    const known = err instanceof CliError;
    const message = err instanceof Error ? err.message : String(err);
    if (json) printJson({ error: { code: known ? err.code : "internal_error", message } });
    process.stderr.write(`videosdgx: ${message}\n`);
    code = known ? err.exitCode : CliExitCode.failed;
  }
  // Let stdout drain (a pipe to a script) before exiting.
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  process.exit(code);
}

const UNITS = ["B", "KB", "MB", "GB", "TB"];
/** Decimal units, as disks and the Hub state sizes. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${UNITS[unit]}`;
}
