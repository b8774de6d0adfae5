import { UnrecoverableError } from "bullmq";
import { formatFailure, JobFailure } from "@videosdgx/shared";
import { VideoEncodeError } from "../video/mp4-encoder.js";

/** ONNX Runtime reports allocation failures only in its message text. */
const OUT_OF_MEMORY = /failed to allocate|bad_alloc|out of memory|cudaErrorMemoryAllocation|NV_ERR_NO_MEMORY/i;

export function classifyFailure(err: unknown): JobFailure {
  if (err instanceof JobFailure) return err;
  if (err instanceof VideoEncodeError) return new JobFailure("video_encode_failed", err.message, true);
  const message = err instanceof Error ? err.message : String(err);
  if (OUT_OF_MEMORY.test(message)) return new JobFailure("out_of_memory", `out of memory: ${message}`, true);
  return new JobFailure("inference_failed", message, true);
}

/**
 * What the processor throws to BullMQ: the reason is stored as `code: message`, and failures another
 * attempt cannot fix skip the remaining attempts.
 */
export function toQueueError(err: unknown): Error {
  const failure = classifyFailure(err);
  const reason = formatFailure(failure.code, failure.message);
  return failure.retryable ? new Error(reason) : new UnrecoverableError(reason);
}
