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
 * Exit codes of the `videosdgx` CLI (`npx videosdgx`, `npm run models`, `npm run doctor`), documented in the
 * README so scripts can tell a retry (network) from a fix to make (token, disk, input).
 */
export const CliExitCode = {
  /**
   * A check failed (verify found a problem, doctor a blocker, a download did not match its hash), or the job
   * failed or was cancelled, or the API refused the action in the job's state (409).
   */
  failed: 1,
  /** Bad input: unknown model or command, a bad option or setting, a request the API refused (400/413/422). Same as ExitCode.config. */
  usage: ExitCode.config,
  /**
   * The Hub, the API or another service could not be reached, the connection broke, or the API is busy
   * (429, 503): running it again (later) can succeed.
   */
  network: 3,
  /** Access refused (401/403): the Hub (a gated repository, no HF_TOKEN) or the API (no key, a revoked key, a missing scope). */
  denied: 4,
  /** No such thing: the Hub's repository, revision or file, or the API's job (404). */
  notFound: 5,
  /** Not enough free disk space for what the command would write. */
  noSpace: 6,
  /** Refused because the model is in use (a live worker serves it), or its users cannot be checked. */
  inUse: 7,
  /** Ctrl-C while waiting for a job (128 + SIGINT, as shells report it): the job was left running, or cancelled as asked. */
  interrupted: 130,
} as const;
export type CliExitCode = (typeof CliExitCode)[keyof typeof CliExitCode];
