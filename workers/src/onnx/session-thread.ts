import { Worker } from "node:worker_threads";
import ort from "onnxruntime-node";
import type { StepScalars } from "../kernels/unipc-kernel.js";
import type { BatchRun, OpenedSession, RunResult, SessionReply, SessionRequest, WireFeed, WireTensor } from "./session-thread-worker.js";

type Request = SessionRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

/**
 * The process's one thread for ONNX Runtime. onnxruntime-node runs `create` and `run` synchronously on
 * the calling thread (its promise only defers the call), so on the main thread a model's load or forward
 * would hold up everything else of the worker: BullMQ's lock renewals, the memory and GPU-slot leases,
 * the heartbeat. Here they run beside the event loop.
 */
class SessionThread {
  private readonly worker = new Worker(new URL("./session-thread-worker.js", import.meta.url));
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; lent: Lent }>();
  private next = 0;
  failure: Error | undefined;

  constructor(onStop: () => void) {
    // The thread keeps the process alive only while it has work.
    this.worker.unref();
    this.worker.on("message", (reply: SessionReply) => {
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      for (const side of ["feeds", "into"] as const) {
        for (const [name, data] of Object.entries(reply.lent?.[side] ?? {})) {
          const t = p?.lent[side][name];
          if (t) t.data = data as Float32Array;
        }
      }
      if ("error" in reply) p?.reject(new Error(reply.error));
      else p?.resolve(reply.value);
    });
    const fail = (err: Error) => {
      if (this.failure) return;
      this.failure = err;
      onStop();
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`the ONNX Runtime session thread exited (code ${code})`)));
  }

  /** Feeds are copied, but for `lent` ones: their buffers move to the thread and back with the reply. */
  call<T>(request: Request, lent: Lent = { feeds: {}, into: {} }): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.next;
    this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, lent });
      const moved = [...new Set([...Object.values(lent.feeds), ...Object.values(lent.into)].map((t) => t.data.buffer as ArrayBuffer))];
      this.worker.postMessage({ ...request, id } as SessionRequest, moved);
    });
  }
}

/** Tensors a run borrows: lent feeds by input name, and the buffers outputs are written into by output name. */
interface Lent {
  feeds: Record<string, LentTensor>;
  into: Record<string, LentTensor>;
}

let thread: SessionThread | undefined;
const deathListeners: ((err: Error) => void)[] = [];

/**
 * Called if the session thread dies: every session open on it is gone, so a worker holding a loaded
 * model must start afresh (its process recycles) rather than fail each job on dead sessions.
 */
export function onSessionThreadDeath(listener: (err: Error) => void): void {
  deathListeners.push(listener);
}

/**
 * Starts the thread and waits until ONNX Runtime is loaded on it. A worker does this at start-up: a
 * broken binding fails there, and the thread's own memory is part of the process before any model's
 * load is measured against it.
 */
export async function startSessionThread(): Promise<void> {
  await sessionThread().call({ op: "ping" });
}

/** The thread, started on first use and again after it died (its sessions are gone with it). */
function sessionThread(): SessionThread {
  if (!thread) {
    const started: SessionThread = new SessionThread(() => {
      if (thread === started) thread = undefined;
      for (const listener of deathListeners) listener(started.failure!);
    });
    thread = started;
  }
  return thread;
}

const wire = (t: ort.Tensor): WireTensor => ({ type: t.type, dims: t.dims, data: t.data });

/** An input kept on the session thread, sent there once (text states fed every step). */
export class HeldTensor {
  constructor(readonly id: number, readonly type: ort.Tensor.Type, readonly dims: readonly number[], private readonly owner: ModelSession) {}

  release(): Promise<void> {
    return this.owner.drop(this);
  }
}

/**
 * A float32 input moved to the session thread for one run and back after it, never copied: the latent a
 * loop feeds at every step. During the run `data` is unusable (detached); afterwards it is a new view on
 * the same memory, so views the caller took of the old one must be taken again.
 */
export class LentTensor {
  constructor(
    public data: Float32Array,
    readonly dims: readonly number[],
  ) {}
}

export type SessionFeeds = Record<string, ort.Tensor | HeldTensor | LentTensor>;

/**
 * A transformer batch kept on the session thread in a UniPC kernel's memory: the graph reads its input
 * from there and writes its velocities there, and the kernel's step follows the forward on the thread, so
 * nothing of the latent's size crosses between threads or is copied during sampling.
 */
export class ThreadBatch {
  constructor(
    private readonly thread: SessionThread,
    readonly id: number,
    readonly inputDims: readonly number[],
    readonly outputDims: readonly number[],
  ) {}

  /** The latent as the last step left it. */
  read(): Promise<Float32Array> {
    return this.thread.call<Float32Array>({ op: "batch-read", batch: this.id });
  }

  /** Ends the run: the kernel's memory becomes the thread's spare; on a thread that died it is gone already. */
  async close(): Promise<void> {
    if (!this.thread.failure) await this.thread.call({ op: "batch-close", batch: this.id });
  }
}

/** A batch to open: `batch` items of `item` floats (the latent then condition channels), a latent of `size`. */
export interface ThreadBatchSpec {
  size: number;
  historySlots: number;
  batch: 1 | 2;
  item: number;
  /** The batch's first contents, `batch * item` floats. */
  initial: Float32Array;
  inputDims: readonly number[];
  outputDims: readonly number[];
}

/**
 * A graph open on the session thread, with float32 tensors on both sides whatever it declares: real
 * exports are float16 at their inputs and outputs, while latents and samplers stay float32. Cast nodes
 * put in the graph at its boundary convert them (boundary-casts.ts); callers see the file's names and
 * types. `runtimeMs` adds up the model's own run time, those casts included (they run where the model
 * runs: on the GPU in production), the crossing between threads excluded.
 */
export class ModelSession {
  runtimeMs = 0;

  private constructor(
    private readonly thread: SessionThread,
    private readonly id: number,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[],
    readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[],
  ) {}

  /** Opens a graph from its path (external data found beside it) or its bytes. */
  static async open(source: string | Uint8Array, options: ort.InferenceSession.SessionOptions = {}): Promise<ModelSession> {
    const thread = sessionThread();
    const o = await thread.call<OpenedSession>({ op: "open", source, options });
    return new ModelSession(thread, o.session, o.inputNames, o.outputNames, o.inputMetadata, o.outputMetadata);
  }

  /**
   * One forward. Outputs named in `into` are written into those float32 buffers (lent like the latent)
   * and are not in the result; the others come back as new tensors.
   */
  async run(feeds: SessionFeeds, into: Record<string, LentTensor> = {}): Promise<Record<string, ort.Tensor>> {
    const sent: Record<string, WireFeed> = {};
    const lent: Lent = { feeds: {}, into };
    for (const [name, t] of Object.entries(feeds)) {
      if (t instanceof HeldTensor) sent[name] = { held: t.id };
      else if (t instanceof LentTensor) {
        sent[name] = { type: "float32", dims: t.dims, data: t.data, lent: true };
        lent.feeds[name] = t;
      } else sent[name] = wire(t);
    }
    const targets = Object.fromEntries(Object.entries(into).map(([name, t]) => [name, { type: "float32", dims: t.dims, data: t.data } satisfies WireTensor]));
    const { outputs, runMs } = await this.thread.call<RunResult>({ op: "run", session: this.id, feeds: sent, into: targets }, lent);
    this.runtimeMs += runMs;
    return Object.fromEntries(Object.entries(outputs).map(([name, w]) => [name, new ort.Tensor(w.type as "float32", w.data as Float32Array, w.dims)]));
  }

  /** Opens a batch on this session's thread (see ThreadBatch). */
  async openBatch(spec: ThreadBatchSpec): Promise<ThreadBatch> {
    const { size, historySlots, batch, item, initial } = spec;
    const id = await this.thread.call<number>({ op: "batch-open", size, slots: historySlots, batch, item, initial });
    return new ThreadBatch(this.thread, id, spec.inputDims, spec.outputDims);
  }

  /**
   * One forward on a thread batch, `input` fed from it and `output` written into it, then the UniPC
   * step with `step`'s scalars there. Resolves to the previewed frame of the step's x0 when `frame` asks.
   */
  async runOnBatch(
    batch: ThreadBatch,
    feeds: SessionFeeds,
    run: { input: string; output: string; step: StepScalars; frame?: BatchRun["frame"] },
  ): Promise<Float32Array | undefined> {
    const sent: Record<string, WireFeed> = {};
    for (const [name, t] of Object.entries(feeds)) {
      if (t instanceof HeldTensor) sent[name] = { held: t.id };
      else if (t instanceof LentTensor) throw new TypeError(`input ${name}: a lent tensor cannot be fed beside a thread batch`);
      else sent[name] = wire(t);
    }
    const request: BatchRun = { id: batch.id, inputDims: batch.inputDims, outputDims: batch.outputDims, ...run };
    const { runMs, frame } = await this.thread.call<RunResult>({ op: "run", session: this.id, feeds: sent, batch: request });
    this.runtimeMs += runMs;
    return frame;
  }

  /** Keeps `tensor` on the thread as input `name` takes it, until released (or the session is). */
  async hold(name: string, tensor: ort.Tensor): Promise<HeldTensor> {
    const id = await this.thread.call<number>({ op: "hold", session: this.id, name, tensor: wire(tensor) });
    return new HeldTensor(id, tensor.type, tensor.dims, this);
  }

  /** @internal HeldTensor.release */
  async drop(held: HeldTensor): Promise<void> {
    if (!this.thread.failure) await this.thread.call({ op: "drop", held: held.id });
  }

  /** Closes the session; on a thread that died it is gone already. */
  async release(): Promise<void> {
    if (!this.thread.failure) await this.thread.call({ op: "release", session: this.id });
  }
}
