import type { Logger } from "./log.js";

/**
 * Runs `stop` once, on the first SIGTERM or SIGINT, then exits 0. A stop that outlives `graceMs` is cut
 * short (exit 1): what it left unfinished is recovered by others (stalled jobs, queued messages).
 */
export function stopOnSignals(log: Logger, graceMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const run = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { signal });
    setTimeout(() => process.exit(1), graceMs).unref();
    await stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void run("SIGTERM"));
  process.on("SIGINT", () => void run("SIGINT"));
}
