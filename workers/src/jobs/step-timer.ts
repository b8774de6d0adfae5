/**
 * One attempt's mean wall time per denoising step (its progress's `step_ms`), timed from the first
 * denoising report on: each report of a step not seen before is a mark; the same step again (a stage
 * starting, a chunk or preview announced) is not.
 */
export class StepTimer {
  private first: { step: number; at: number } | undefined;
  private last: number | undefined;
  /** Undefined until a step after the first mark is done. */
  stepMs: number | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** A denoising report at `step` (steps done so far). */
  reached(step: number): void {
    if (step === this.last) return;
    this.last = step;
    const at = this.now();
    if (!this.first) this.first = { step, at };
    const ms = Math.round(((at - this.first.at) / (step - this.first.step)) * 100) / 100;
    // A positive time only: the contract says so, and a job's progress failing it would be unreadable.
    if (step > this.first.step && ms > 0) this.stepMs = ms;
  }
}
