import { spawn, type ChildProcess } from "node:child_process";
import { ExitCode, type Logger } from "@videosdgx/shared";

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** The stack is useless without it (the API): its refusal to start ends the launcher. */
  essential?: boolean;
}

const MAX_BACKOFF_MS = 30000;

/**
 * Keeps child processes running: a crashed child is restarted with exponential backoff (reset after a
 * minute of good health); a worker that recycled itself to give memory back is restarted at once.
 * Stopping sends SIGTERM and waits; each child finishes its own work. A child that refuses to start
 * (configuration exit code) is not restarted; if it is essential, `onFatal` is told.
 */
export class Supervisor {
  private readonly running = new Map<string, ChildProcess>();
  private stopping = false;

  constructor(
    private readonly log: Logger,
    private readonly onFatal: (child: string) => void = () => undefined,
  ) {}

  start(spec: ChildSpec, backoffMs = 1000): void {
    const child = spawn(spec.command, spec.args, { env: spec.env, stdio: "inherit" });
    const startedAt = Date.now();
    this.running.set(spec.name, child);
    child.once("error", (err) => this.log.error("cannot start child", { child: spec.name, error: err.message }));
    child.once("exit", (code, signal) => {
      this.running.delete(spec.name);
      if (this.stopping) return;
      if (code === ExitCode.config) {
        this.log.error("child refused to start (configuration); not restarting it", { child: spec.name });
        if (spec.essential) this.onFatal(spec.name);
        return;
      }
      if (code === ExitCode.recycle) {
        this.log.info("child recycled itself to give memory back; restarting it now", { child: spec.name });
        this.start(spec, backoffMs);
        return;
      }
      const healthy = Date.now() - startedAt > 60000;
      const delay = healthy ? 1000 : backoffMs;
      this.log.warn("child exited; restarting", { child: spec.name, code, signal, restart_in_ms: delay });
      setTimeout(() => {
        if (!this.stopping) this.start(spec, Math.min(delay * 2, MAX_BACKOFF_MS));
      }, delay).unref();
    });
  }

  async stopAll(graceMs: number): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.running.entries()].map(([name, child]) => {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        const force = setTimeout(() => {
          this.log.warn("child did not stop in time; killing it", { child: name });
          child.kill("SIGKILL");
        }, graceMs);
        return exited.finally(() => clearTimeout(force));
      }),
    );
  }
}
