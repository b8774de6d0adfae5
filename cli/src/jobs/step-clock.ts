import type { Progress } from "@videosdgx/shared";

/**
 * Time left from this job's own denoising steps as seen here: the mean time per step so far times the
 * steps left (the studio page estimates the same way). Undefined until two steps have been seen.
 */
export class StepClock {
  private first: { step: number; at: number } | undefined;
  private last: { step: number; at: number } | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {}

  see(progress: Progress): void {
    if (progress.phase !== "denoising" || progress.step === this.last?.step) return;
    const mark = { step: progress.step, at: this.now() };
    this.first ??= mark;
    this.last = mark;
  }

  etaMs(progress: Progress): number | undefined {
    const { first, last } = this;
    if (progress.phase !== "denoising" || !first || !last || last.step <= first.step) return undefined;
    const perStep = (last.at - first.at) / (last.step - first.step);
    return Math.max(0, (progress.total - progress.step) * perStep);
  }
}
