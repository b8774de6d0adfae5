import { z } from "zod";
import { BullLayout } from "../bullmq/layout.js";
import { parseJsonOrUndefined } from "../json.js";

/** Why a job (or one attempt of it) failed: stable codes a client can act on. */
export const JOB_FAILURE_CODES = [
  "cancelled",
  "invalid_job_data",
  "invalid_image",
  "model_missing",
  "model_invalid",
  "model_load_failed",
  "out_of_memory",
  "inference_failed",
  "video_encode_failed",
  "worker_lost",
  "internal_error",
] as const;
export const JobFailureCodeSchema = z.enum(JOB_FAILURE_CODES);
export type JobFailureCode = z.infer<typeof JobFailureCodeSchema>;

/** A failure as it travels through the queue: `retryable` false skips the attempts left. */
export const JobFailureRecordSchema = z.object({ code: JobFailureCodeSchema, message: z.string(), retryable: z.boolean() });
export type JobFailureRecord = z.infer<typeof JobFailureRecordSchema>;

/** What users see of a failure. */
export interface FailureView {
  code: JobFailureCode;
  message: string;
}

/** BullMQ keeps one string per failed attempt (`failedReason`): ours holds the failure as JSON. */
export function failureReason(failure: JobFailureRecord): string {
  return JSON.stringify(failure);
}

/**
 * The failure a `failedReason` records. BullMQ writes reasons of its own where no processor of ours
 * could (a job whose worker died past the stalled limit); anything else unreadable is an internal error
 * shown with its text, never dropped.
 */
export function readFailure(reason: string | undefined): FailureView {
  if (!reason) return { code: "internal_error", message: "the job failed without a reason" };
  const parsed = JobFailureRecordSchema.safeParse(parseJsonOrUndefined(reason));
  if (parsed.success) return { code: parsed.data.code, message: parsed.data.message };
  if (BullLayout.isStalledReason(reason)) {
    return { code: "worker_lost", message: `the worker running the job stopped (killed or crashed) too often: ${reason}` };
  }
  return { code: "internal_error", message: reason };
}
