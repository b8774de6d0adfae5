import { UnrecoverableError } from "bullmq";
import { failureReason, JobFailure } from "@videosdgx/shared";
import { VideoEncodeError } from "../video/mp4-encoder.js";

/**
 * ONNX Runtime reports allocation failures only in its message text: its CPU arena says "Failed to
 * allocate memory for requested buffer of size N", a failed operator new "bad_alloc", CUDA its own words.
 */
const OUT_OF_MEMORY = /failed to allocate|bad_alloc|out of memory|cudaErrorMemoryAllocation|NV_ERR_NO_MEMORY/i;
const REQUESTED_SIZE = /requested buffer of size (\d+)/i;

export function isOutOfMemory(message: string): boolean {
  return OUT_OF_MEMORY.test(message);
}

/** "out of memory: could not allocate 4.00 GB more: <ONNX Runtime's message>", the size when it gives one. */
function outOfMemoryMessage(message: string): string {
  const size = REQUESTED_SIZE.exec(message)?.[1];
  return `out of memory: ${size ? `could not allocate ${(Number(size) / 1e9).toFixed(2)} GB more: ` : ""}${message.trim()}`;
}

export function classifyFailure(err: unknown): JobFailure {
  if (err instanceof JobFailure) return err;
  if (err instanceof VideoEncodeError) return new JobFailure("video_encode_failed", err.message, true);
  const message = err instanceof Error ? err.message : String(err);
  if (isOutOfMemory(message)) return new JobFailure("out_of_memory", outOfMemoryMessage(message), true);
  return new JobFailure("inference_failed", message, true);
}

/**
 * What the processor throws to BullMQ: the failure travels as data in the job's reason, and failures
 * another attempt cannot fix skip the remaining attempts.
 */
export function toQueueError(failure: JobFailure): Error {
  const reason = failureReason(failure.record());
  return failure.retryable ? new Error(reason) : new UnrecoverableError(reason);
}
