/** Exit codes our processes end with on purpose; the supervisor (and the README for compose) acts on them. */
export const ExitCode = {
  /** Bad configuration or environment: restarting cannot help. */
  config: 2,
  /**
   * A worker ends itself, idle, to give back memory its unloaded model left behind in the process
   * (allocator arenas the OS never got back): restart it at once, empty.
   */
  recycle: 75,
} as const;

/**
 * Exit codes of the `videosdgx` CLI (`npm run models`, `npm run doctor`), documented in the README so
 * scripts can tell a retry (network) from a fix to make (token, disk, input).
 */
export const CliExitCode = {
  /** A check failed: verify found a problem, doctor found a blocker, a download did not match its hash. */
  failed: 1,
  /** Bad input: unknown model or command, a bad option or setting. Same as ExitCode.config. */
  usage: ExitCode.config,
  /** The Hub or another service could not be reached, or the connection broke: running it again resumes. */
  network: 3,
  /** The Hub refused access (401/403): a gated repository whose licence is not accepted, or no HF_TOKEN. */
  denied: 4,
  /** The Hub has no such repository, revision or file. */
  notFound: 5,
  /** Not enough free disk space for what the command would write. */
  noSpace: 6,
  /** Refused because the model is in use (a live worker serves it), or its users cannot be checked. */
  inUse: 7,
} as const;
export type CliExitCode = (typeof CliExitCode)[keyof typeof CliExitCode];
