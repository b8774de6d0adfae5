import { createInterface } from "node:readline/promises";

/**
 * Ctrl-C while a job is followed: an AbortSignal that fires on the first SIGINT (the follow and the
 * download stop), and the question what to do with the job. Without a terminal to ask on (a script, a
 * pipe) there is no question: the job is left running.
 */
export class Interrupt {
  private readonly controller = new AbortController();
  private readonly onSigint = () => this.controller.abort();

  constructor() {
    process.on("SIGINT", this.onSigint);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get happened(): boolean {
    return this.controller.signal.aborted;
  }

  /** Stops listening: a later Ctrl-C ends the process as usual. */
  dispose(): void {
    process.off("SIGINT", this.onSigint);
  }

  /** On a terminal, asks whether to cancel the job; true to cancel. A second Ctrl-C (or EOF) answers no. */
  static async askToCancel(id: string): Promise<boolean> {
    if (!process.stdin.isTTY || !process.stderr.isTTY) return false;
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const declined = new Promise<string>((resolve) => {
      rl.once("SIGINT", () => resolve("n"));
      rl.once("close", () => resolve("n"));
    });
    try {
      const answer = await Promise.race([rl.question(`\ncancel job ${id}? [y/N] (N leaves it running) `), declined]);
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  }
}
