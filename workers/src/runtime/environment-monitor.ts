import type { EnvironmentProblem } from "@videosdgx/shared";
import { useFfmpegBinary } from "../video/mp4-encoder.js";
import { checkEnvironment, type EnvironmentSettings } from "./environment-check.js";

/** While healthy: often enough that /readyz tells of a folder broken while the worker idles. */
const HEALTHY_RECHECK_MS = 10_000;
/** While broken: soon after the first failure, then every few seconds. */
const BROKEN_RECHECK_MS = [1000, 2000, 4000, 5000];

/**
 * Keeps this worker's view of its environment: checked at start, before each job, after a failed one and
 * on a timer. `onChange` hears each change (the worker pauses or resumes taking jobs), before `check`
 * returns, so a caller that sees a problem knows the worker has already stopped fetching.
 */
export class EnvironmentMonitor {
  problem: EnvironmentProblem | undefined;
  private inFlight: Promise<EnvironmentProblem | undefined> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private brokenChecks = 0;
  private stopped = false;

  constructor(
    private readonly settings: EnvironmentSettings,
    private readonly onChange: (problem: EnvironmentProblem | undefined) => Promise<void>,
  ) {}

  /** Runs a check now (joining one under way); the problem, or undefined when jobs can run. */
  check(): Promise<EnvironmentProblem | undefined> {
    this.inFlight ??= this.runCheck().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async runCheck(): Promise<EnvironmentProblem | undefined> {
    const result = await checkEnvironment(this.settings);
    // fluent-ffmpeg remembers the first lookup (even a failed one): it is told the binary we found.
    if (result.ok) useFfmpegBinary(result.ffmpeg);
    const next = result.ok ? undefined : result.problem;
    const changed = next?.code !== this.problem?.code || next?.message !== this.problem?.message;
    this.problem = next;
    if (changed) await this.onChange(next);
    return next;
  }

  /** The first check, then rechecks on a timer until `stop`. */
  async start(): Promise<EnvironmentProblem | undefined> {
    const problem = await this.check();
    this.schedule();
    return problem;
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = this.problem ? BROKEN_RECHECK_MS[Math.min(this.brokenChecks++, BROKEN_RECHECK_MS.length - 1)]! : HEALTHY_RECHECK_MS;
    if (!this.problem) this.brokenChecks = 0;
    this.timer = setTimeout(() => {
      void this.check().catch(() => undefined).finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
