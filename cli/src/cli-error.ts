import { CliExitCode } from "@videosdgx/shared";

/** A failure the CLI reports as a message and an exit code (never a stack trace): what went wrong, what to do. */
export class CliError extends Error {
  constructor(
    /** Stable, for scripts reading `--json`: e.g. `hub_denied`, `hash_mismatch`, `no_space`. */
    readonly code: string,
    message: string,
    readonly exitCode: CliExitCode,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export const usageError = (message: string) => new CliError("bad_input", message, CliExitCode.usage);
