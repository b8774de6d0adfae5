import { WaitingError, type Job } from "bullmq";
import type { EnvironmentProblem, Progress, Timings } from "@videosdgx/shared";

/**
 * Puts a job this worker cannot finish on this host back at the head of its queue, its failed-attempt
 * count untouched (BullMQ's documented move-to-wait: `moveToWait` with the lock token, then
 * `WaitingError`). The progress it keeps says what it waits for, and on which host.
 */
export async function backToWaiting(job: Job, token: string | undefined, problem: EnvironmentProblem, timings: Timings, host: string): Promise<never> {
  const total = (job.data as { steps: number }).steps;
  await job.updateProgress({ phase: "waiting_for_environment", step: 0, total, timings, host, environment: problem } satisfies Progress);
  await job.moveToWait(token);
  throw new WaitingError(problem.message);
}
