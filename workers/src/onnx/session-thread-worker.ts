import { readFile } from "node:fs/promises";
import path from "node:path";
import { parentPort } from "node:worker_threads";
import ort from "onnxruntime-node";
import { readOnnxGraph } from "@videosdgx/shared";
import { castBoundaryToFloat32 } from "./boundary-casts.js";
import { UniPCKernel, type StepScalars } from "../kernels/unipc-kernel.js";
import { previewFrameOf } from "../kernels/frame-x0.js";

/** A tensor as it crosses the thread boundary: plain data, copied in, transferred out. */
export interface WireTensor {
  type: ort.Tensor.Type;
  dims: readonly number[];
  data: ort.Tensor.DataType;
}

/** `lent`: its buffer was moved here for the run and goes back with the reply. */
export type WireFeed = (WireTensor & { lent?: true }) | { held: number };

export type SessionRequest = { id: number } & (
  | { op: "ping" }
  | { op: "open"; source: string | Uint8Array; options: ort.InferenceSession.SessionOptions }
  | { op: "run"; session: number; feeds: Record<string, WireFeed>; into?: Record<string, WireTensor>; batch?: BatchRun }
  | { op: "batch-open"; size: number; slots: number; batch: 1 | 2; item: number; initial: Float32Array }
  | { op: "batch-read"; batch: number }
  | { op: "batch-close"; batch: number }
  | { op: "hold"; session: number; name: string; tensor: WireTensor }
  | { op: "drop"; held: number }
  | { op: "release"; session: number }
);

export interface OpenedSession {
  session: number;
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
}

/**
 * A run on a batch resident in a UniPC kernel's memory: `input` is fed from the batch and `output`
 * written into it in place; then the kernel steps with `step`'s scalars, and `frame` asks for the
 * previewed frame of its x0 estimate.
 */
export interface BatchRun {
  id: number;
  input: string;
  inputDims: readonly number[];
  output: string;
  outputDims: readonly number[];
  step: StepScalars;
  frame?: { channels: number; frames: number; pixels: number };
}

export interface RunResult {
  outputs: Record<string, WireTensor>;
  /** The model's own run, with its boundary casts (they are part of its graph). */
  runMs: number;
  /** A batch run's previewed frame, when asked for. */
  frame?: Float32Array;
}

/**
 * `lent`: the lent feeds' buffers (by input name) and `into`'s (by output name), moved back to their
 * owner whether the run succeeded or not.
 */
export type SessionReply = { id: number; lent?: { feeds: Record<string, ort.Tensor.DataType>; into: Record<string, ort.Tensor.DataType> } } & (
  | { value: OpenedSession | RunResult | Float32Array | number | null }
  | { error: string }
);

interface Open {
  session: ort.InferenceSession;
  /** Every input's and output's name as callers know it (the file's) to the session's (boundary casts rename). */
  inputNames: Map<string, string>;
  outputNames: Map<string, string>;
  /** The session's element type of each output, by the caller's name. */
  outputTypes: Map<string, ort.Tensor.Type>;
  held: Set<number>;
}

const sessions = new Map<number, Open>();
/** Transformer batches resident in UniPC kernels, by id. */
const batches = new Map<number, UniPCKernel>();
const held = new Map<number, { session: number; tensor: ort.Tensor }>();
let nextId = 0;

const tensorOf = (w: WireTensor): ort.Tensor => new ort.Tensor(w.type as "float32", w.data as Float32Array, w.dims);

function opened(id: number): Open {
  const s = sessions.get(id);
  if (!s) throw new Error(`session ${id} is not open on the session thread`);
  return s;
}

/** The session's name for input `name`; an input the graph does not have is refused before any run. */
function sessionInput(s: Open, name: string): string {
  const inner = s.inputNames.get(name);
  if (inner === undefined) throw new Error(`the graph has no input ${name} (its inputs: ${[...s.inputNames.keys()].join(", ")})`);
  return inner;
}

function residentBatch(id: number): UniPCKernel {
  const kernel = batches.get(id);
  if (!kernel) throw new Error(`batch ${id} is not open on the session thread`);
  return kernel;
}

const HALF = new Set(["float16", "bfloat16"]);

/**
 * Opens a graph, with Cast nodes at its float16 and bfloat16 boundary (boundary-casts.ts). A file is read
 * into memory only then: its external data is still found beside it, through ONNX Runtime's option for
 * models loaded from bytes.
 */
async function createSession(source: string | Uint8Array, options: ort.InferenceSession.SessionOptions) {
  let bytes = typeof source === "string" ? undefined : source;
  if (typeof source === "string") {
    const reading = await readOnnxGraph(source);
    const half = reading.problem === undefined && [...reading.signature.inputs, ...reading.signature.outputs].some((t) => HALF.has(t.type));
    if (!half) return { session: await ort.InferenceSession.create(source, options), casts: undefined };
    bytes = await readFile(source);
  }
  const casts = castBoundaryToFloat32(bytes!);
  if (!casts) return { session: await ort.InferenceSession.create(bytes!, options), casts };
  const folder = typeof source === "string" ? { model_external_initializers_file_folder_path: path.dirname(source) } : {};
  const extra = { ...options.extra, session: { ...(options.extra as { session?: object } | undefined)?.session, ...folder } };
  return { session: await ort.InferenceSession.create(casts.model, { ...options, extra }), casts };
}

/** The session's metadata under the file's names and element types, as callers know the graph. */
function asDeclared(meta: readonly ort.InferenceSession.ValueMetadata[], renamed = new Map<string, string>(), types = new Map<string, string>()) {
  const original = new Map([...renamed].map(([name, outer]) => [outer, name]));
  return meta.map((m) => {
    const name = original.get(m.name);
    // "bfloat16" is not among onnxruntime-common's tensor types, but the file's type is what callers check.
    return name !== undefined && m.isTensor ? { ...m, name, type: types.get(name) as ort.Tensor.Type } : m;
  });
}

async function handle(req: SessionRequest): Promise<{ value: OpenedSession | RunResult | Float32Array | number | null; transfer: ArrayBuffer[] }> {
  switch (req.op) {
    case "ping":
      return { value: null, transfer: [] };
    case "open": {
      const { source, options } = req;
      const { session, casts } = await createSession(source, options);
      const id = ++nextId;
      const inputMetadata = asDeclared(session.inputMetadata, casts?.inputs, casts?.types);
      const outputMetadata = asDeclared(session.outputMetadata, casts?.outputs, casts?.types);
      const outputTypes = new Map<string, ort.Tensor.Type>();
      session.outputMetadata.forEach((m, i) => m.isTensor && outputTypes.set(outputMetadata[i]!.name, m.type));
      const names = (meta: readonly ort.InferenceSession.ValueMetadata[], renamed = new Map<string, string>()) => new Map(meta.map((m) => [m.name, renamed.get(m.name) ?? m.name]));
      sessions.set(id, { session, inputNames: names(inputMetadata, casts?.inputs), outputNames: names(outputMetadata, casts?.outputs), outputTypes, held: new Set() });
      const value: OpenedSession = {
        session: id, inputNames: inputMetadata.map((m) => m.name), outputNames: outputMetadata.map((m) => m.name), inputMetadata, outputMetadata,
      };
      return { value, transfer: [] };
    }
    case "run": {
      const s = opened(req.session);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, feed] of Object.entries(req.feeds)) {
        let tensor: ort.Tensor;
        if ("held" in feed) {
          const h = held.get(feed.held);
          if (!h || h.session !== req.session) throw new Error(`input ${name}: held tensor ${feed.held} is not held for this session`);
          tensor = h.tensor;
        } else tensor = tensorOf(feed);
        feeds[sessionInput(s, name)] = tensor;
      }
      const batch = req.batch && residentBatch(req.batch.id);
      if (req.batch && s.outputTypes.get(req.batch.output) !== "float32") throw new Error(`the graph has no float32 output ${req.batch.output} to write into the batch`);
      if (req.batch) feeds[sessionInput(s, req.batch.input)] = new ort.Tensor("float32", batch!.batchInput, req.batch.inputDims);
      // Outputs with a float32 buffer of the caller's are written there by ONNX Runtime (a float16 or
      // bfloat16 output is float32 through its boundary cast), so a loop's outputs are no new allocation a run.
      const into = req.into ?? {};
      for (const name of Object.keys(into)) {
        const type = s.outputTypes.get(name);
        if (!type) throw new Error(`the graph has no output ${name} (its outputs: ${[...s.outputTypes.keys()].join(", ")})`);
        if (type !== "float32") throw new Error(`output ${name} is ${type}: it cannot be written into a float32 buffer`);
      }
      const fetches: Record<string, ort.Tensor | null> = {};
      const callerName = new Map<string, string>();
      for (const [name, outer] of s.outputNames) {
        callerName.set(outer, name);
        const target = into[name];
        fetches[outer] = target ? tensorOf(target) : name === req.batch?.output ? new ort.Tensor("float32", batch!.batchOutput, req.batch.outputDims) : null;
      }
      const started = performance.now();
      const out = await s.session.run(feeds, fetches);
      const runMs = performance.now() - started;
      const outputs: Record<string, WireTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [outer, value] of Object.entries(out)) {
        const name = callerName.get(outer) ?? outer;
        if (into[name] || name === req.batch?.output) continue; // the caller has it in its own buffer, or the batch does
        const data = value.data as Exclude<ort.Tensor.DataType, string[]>;
        outputs[name] = { type: value.type, dims: value.dims, data };
        // ONNX Runtime's outputs are fresh buffers of their own: moved to the caller, not copied.
        if (!transfer.includes(data.buffer as ArrayBuffer)) transfer.push(data.buffer as ArrayBuffer);
      }
      if (!req.batch) return { value: { outputs, runMs } satisfies RunResult, transfer };
      batch!.stepResident(req.batch.step);
      const f = req.batch.frame;
      const frame = f && previewFrameOf(batch!.lastModelOutput(), f.channels, f.frames, f.pixels);
      return { value: { outputs, runMs, ...(frame ? { frame } : {}) } satisfies RunResult, transfer: frame ? [...transfer, frame.buffer as ArrayBuffer] : transfer };
    }
    case "hold": {
      const s = opened(req.session);
      sessionInput(s, req.name);
      const id = ++nextId;
      held.set(id, { session: req.session, tensor: tensorOf(req.tensor) });
      s.held.add(id);
      return { value: id, transfer: [] };
    }
    case "batch-open": {
      const kernel = UniPCKernel.take(req.size, req.slots, { batch: req.batch, item: req.item });
      if (req.initial.length !== kernel.batchInput.length) throw new RangeError(`a batch of ${kernel.batchInput.length} values cannot start from ${req.initial.length}`);
      kernel.batchInput.set(req.initial);
      const id = ++nextId;
      batches.set(id, kernel);
      return { value: id, transfer: [] };
    }
    case "batch-read": {
      const latent = residentBatch(req.batch).latent.slice();
      return { value: latent, transfer: [latent.buffer as ArrayBuffer] };
    }
    case "batch-close": {
      batches.get(req.batch)?.retire();
      batches.delete(req.batch);
      return { value: null, transfer: [] };
    }
    case "drop": {
      const h = held.get(req.held);
      held.delete(req.held);
      if (h) sessions.get(h.session)?.held.delete(req.held);
      return { value: null, transfer: [] };
    }
    case "release": {
      const s = sessions.get(req.session);
      sessions.delete(req.session);
      if (s) {
        for (const h of s.held) held.delete(h);
        await s.session.release();
      }
      return { value: null, transfer: [] };
    }
  }
}

// Requests are handled one at a time, in order: a session is not run concurrently, and a model's
// graphs run one after another anyway.
let queue = Promise.resolve();
parentPort!.on("message", (req: SessionRequest) => {
  queue = queue.then(async () => {
    const lent = { feeds: {} as Record<string, ort.Tensor.DataType>, into: {} as Record<string, ort.Tensor.DataType> };
    if (req.op === "run") {
      for (const [name, f] of Object.entries(req.feeds)) if ("lent" in f && f.lent) lent.feeds[name] = f.data;
      for (const [name, t] of Object.entries(req.into ?? {})) lent.into[name] = t.data;
    }
    const back = [...new Set([...Object.values(lent.feeds), ...Object.values(lent.into)].map((d) => (d as Float32Array).buffer as ArrayBuffer))];
    try {
      const { value, transfer } = await handle(req);
      parentPort!.postMessage({ id: req.id, value, lent } satisfies SessionReply, [...transfer, ...back.filter((b) => !transfer.includes(b))]);
    } catch (err) {
      parentPort!.postMessage({ id: req.id, error: (err as Error).message ?? String(err), lent } satisfies SessionReply, back);
    }
  });
});
