import assert from "node:assert/strict";
import { test } from "node:test";
import { UnrecoverableError } from "bullmq";
import { JobFailure, readFailure } from "@videosdgx/shared";
import { classifyFailure, toQueueError } from "./failure.js";

// Messages as onnxruntime-node 1.30 (CPU) gave them here, under an address-space limit (see memory-oom.e2e).
const ARENA =
  "Non-zero status code returned while running Expand node. Name:'n_Expand_7' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:360 " +
  "void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*) Failed to allocate memory for requested buffer of size 4000000000\n";

test("ONNX Runtime's arena allocation failure is a retryable out_of_memory that names the size", () => {
  const f = classifyFailure(new Error(ARENA));
  assert.equal(f.code, "out_of_memory");
  assert.equal(f.retryable, true);
  assert.match(f.message, /^out of memory: could not allocate 4\.00 GB more: Non-zero status code .*size 4000000000$/);
});

test("bad_alloc is out_of_memory too (no size given); other errors are inference failures", () => {
  assert.equal(classifyFailure(new Error("std::bad_alloc")).message, "out of memory: std::bad_alloc");
  assert.equal(classifyFailure(new Error("Invalid rank for input")).code, "inference_failed");
});

test("failures another attempt cannot fix skip the remaining attempts; code and message travel as data", () => {
  assert.ok(toQueueError(new JobFailure("model_missing", "gone", false)) instanceof UnrecoverableError);
  const retried = toQueueError(new JobFailure("out_of_memory", "short", true));
  assert.ok(!(retried instanceof UnrecoverableError));
  assert.deepEqual(readFailure(retried.message), { code: "out_of_memory", message: "short" });
});
