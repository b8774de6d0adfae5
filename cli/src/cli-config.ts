import { CliExitCode, loadConfig, type Config } from "@videosdgx/shared";
import { CliError } from "./cli-error.js";

/** The global options that stand for settings: `--url` for VIDEOSDGX_URL, `--key` for VIDEOSDGX_API_KEY. */
export interface GlobalOptions {
  url?: string;
  key?: string;
}

/**
 * The environment, with the global options in place of their variables, parsed once by the shared schema:
 * a bad `--url` is refused like a bad VIDEOSDGX_URL.
 */
export function cliConfig(globals: GlobalOptions = {}): Config {
  const env = { ...process.env };
  if (globals.url !== undefined) env.VIDEOSDGX_URL = globals.url;
  if (globals.key !== undefined) env.VIDEOSDGX_API_KEY = globals.key;
  try {
    return loadConfig(env);
  } catch (err) {
    const message = (err as Error).message
      .replace(/^(\s*)VIDEOSDGX_URL=/m, "$1--url / VIDEOSDGX_URL=")
      .replace(/^(\s*)VIDEOSDGX_API_KEY=.*?:/m, "$1--key / VIDEOSDGX_API_KEY:");
    throw new CliError("bad_config", message, CliExitCode.usage);
  }
}
