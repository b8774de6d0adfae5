import { Queue, UnrecoverableError, Worker, type Job, type QueueOptions, type WorkerOptions } from "bullmq";
import type { z } from "zod";
import { failureReason } from "./job-failure.js";

/**
 * What producers and consumers of one kind of queue agree on: its job names and the schemas of a job's
 * data and result. Both sides build their BullMQ objects from it, and a worker parses every job's data
 * before any work: jobs outlive deploys, so an old or foreign payload must fail clearly, at once.
 */
export interface QueueContract<Data, Result, Name extends string> {
  /** What the queue's jobs are, for messages ("generation job"). */
  readonly kind: string;
  readonly jobNames: readonly Name[];
  readonly data: z.ZodType<Data>;
  readonly result: z.ZodType<Result>;
}

export function openQueue<D, R, N extends string>(_contract: QueueContract<D, R, N>, name: string, options: QueueOptions): Queue<D, R, N> {
  return new Queue<D, R, N>(name, options);
}

/**
 * A BullMQ worker whose processor receives the job's parsed data. A job whose name or data does not
 * match the contract fails for good with `invalid_job_data`, naming the fields; a result that does not
 * match is a bug of the processor and fails the attempt.
 */
export function startWorker<D, R, N extends string>(
  contract: QueueContract<D, R, N>,
  name: string,
  processor: (job: Job<D, R, N>, data: D, token?: string) => Promise<R>,
  options: WorkerOptions,
): Worker<D, R, N> {
  return new Worker<D, R, N>(
    name,
    async (job, token) => {
      const data = parseJobData(contract, job);
      return contract.result.parse(await processor(job, data, token));
    },
    options,
  );
}

/** The job's data as the contract defines it, or an unrecoverable `invalid_job_data` failure. */
export function parseJobData<D, R, N extends string>(contract: QueueContract<D, R, N>, job: Pick<Job, "id" | "name" | "data">): D {
  const problems: string[] = [];
  if (!contract.jobNames.includes(job.name as N)) problems.push(`job name "${job.name}" is not one of ${contract.jobNames.join(", ")}`);
  const parsed = contract.data.safeParse(job.data);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "data"}: ${i.message}`));
  }
  if (problems.length > 0 || !parsed.success) {
    const message = `job ${job.id} is not a ${contract.kind} job this version can run (written by another version or another program?): ${problems.join("; ")}`;
    throw new UnrecoverableError(failureReason({ code: "invalid_job_data", message, retryable: false }));
  }
  return parsed.data;
}
