import { parentPort } from "node:worker_threads";
import type { FrameSize } from "./decode.js";
import { createRgbSession, rgbGroups } from "./rgb-frames-graph.js";

/** A conversion request from RgbConverter, and what this thread answers to it. */
export interface RgbRequest {
  id: number;
  video: Float32Array;
  size: FrameSize;
  group: number;
}
/** Stops request `cancel` before its next group. */
export interface RgbCancel {
  cancel: number;
}
/** The last reply to a request hands its video back, so the thread holds no job's memory between requests. */
export type RgbReply = { id: number; bytes: Uint8Array } | { id: number; done: true; video: Float32Array } | { id: number; error: string; video: Float32Array };

/*
 * The conversion's thread: onnxruntime-node runs a session synchronously on the calling thread, so on
 * the worker's main thread a chunk's conversion would hold the event loop (and the writes feeding ffmpeg)
 * for its whole run. Requests are served one after another; each group's bytes are transferred, not copied.
 * Every request ends in one `done` or `error` reply, a cancelled one too. One scratch buffer, the
 * largest group's, is kept across requests: the thread's own garbage would wait for its own collections.
 */
const port = parentPort!;
const session = createRgbSession();
const cancelled = new Set<number>();
let scratch = new Float32Array(0);
let queue = Promise.resolve();

port.on("message", (message: RgbRequest | RgbCancel) => {
  if ("cancel" in message) return void cancelled.add(message.cancel);
  const request = message;
  queue = queue.then(async () => {
    try {
      const { size, group } = request;
      const need = 3 * Math.min(group, size.frames) * size.height * size.width;
      if (scratch.length < need) scratch = new Float32Array(need);
      for await (const bytes of rgbGroups(await session, request.video, size, group, scratch)) {
        if (cancelled.has(request.id)) break;
        port.postMessage({ id: request.id, bytes } satisfies RgbReply, [bytes.buffer as ArrayBuffer]);
      }
      port.postMessage({ id: request.id, done: true, video: request.video } satisfies RgbReply, [request.video.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ id: request.id, error: (err as Error).message, video: request.video } satisfies RgbReply, [request.video.buffer as ArrayBuffer]);
    } finally {
      cancelled.delete(request.id);
    }
  });
});
