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
