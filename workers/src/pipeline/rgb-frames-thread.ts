import { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import type { FrameParts } from "../video/frame-parts.js";
import type { FrameSize } from "./decode.js";
import type { RgbCancel, RgbReply, RgbRequest } from "./rgb-frames-worker.js";

/** Frames a part: small enough that ffmpeg starts early, large enough that each run's overhead is noise. */
const GROUP_FRAMES = 4;

/** Frames being converted. */
export interface ConvertingFrames extends FrameParts {
  /** Stops the conversion (parts not read are dropped); resolves once the thread has let go of it. */
  close(): Promise<void>;
}

export interface RgbConverter {
  /**
   * `video` [1, 3, F, H, W] in [-1, 1] as rgb24 parts, converted on the converter's thread. Its buffer
   * is transferred there, not copied: the caller's array is empty afterwards.
   */
  frames(video: Float32Array, size: FrameSize): ConvertingFrames;
  /** Its thread died: every later request fails. */
  readonly failed: boolean;
  release(): Promise<void>;
}

interface Pending {
  /** Null once closed: its late parts are dropped. */
  out: Readable | null;
  /** Called with the thread's last word on the request. */
  ended: () => void;
}

/** The RGB graph (rgb-frames-graph) on a thread of its own, so the event loop stays free while it runs. */
export function createRgbConverter(): RgbConverter {
  const worker = new Worker(new URL("./rgb-frames-worker.js", import.meta.url));
  const pending = new Map<number, Pending>();
  let failure: Error | undefined;
  let next = 0;
  // The thread keeps the process alive only while it has work.
  worker.unref();
  const end = (id: number) => {
    pending.get(id)?.ended();
    pending.delete(id);
    if (pending.size === 0) worker.unref();
  };
  const fail = (err: Error) => {
    failure ??= err;
    for (const [id, p] of pending) {
      p.out?.destroy(err);
      end(id);
    }
  };
  worker.on("message", (reply: RgbReply) => {
    const out = pending.get(reply.id)?.out;
    if ("bytes" in reply) return void out?.push(reply.bytes);
    if ("done" in reply) out?.push(null);
    else out?.destroy(new Error(`RGB conversion failed: ${reply.error}`));
    end(reply.id);
  });
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`the RGB conversion thread exited (code ${code})`)));
  return {
    frames(video, size) {
      const id = ++next;
      const out = new Readable({ objectMode: true, read() {} });
      let ended = Promise.resolve();
      if (failure) out.destroy(failure);
      else {
        const entry: Pending = { out, ended: () => {} };
        ended = new Promise((resolve) => (entry.ended = resolve));
        pending.set(id, entry);
        worker.ref();
        worker.postMessage({ id, video, size, group: GROUP_FRAMES } satisfies RgbRequest, [video.buffer as ArrayBuffer]);
      }
      return {
        count: size.frames,
        parts: out,
        async close() {
          const entry = pending.get(id);
          if (entry) {
            entry.out = null;
            worker.postMessage({ cancel: id } satisfies RgbCancel);
          }
          out.destroy();
          await ended;
        },
      };
    },
    get failed() {
      return failure !== undefined;
    },
    async release() {
      worker.removeAllListeners("exit");
      await worker.terminate();
    },
  };
}

let shared: RgbConverter | undefined;

/** One converter for the process: its thread, session and arena are warm by a job's first chunk. */
export function sharedRgbConverter(): RgbConverter {
  if (!shared || shared.failed) shared = createRgbConverter();
  return shared;
}
