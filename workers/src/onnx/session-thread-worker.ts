import { parentPort } from "node:worker_threads";
import ort from "onnxruntime-node";
import { castTensor } from "./half-cast.js";

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
  | { op: "run"; session: number; feeds: Record<string, WireFeed>; into?: Record<string, WireTensor> }
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

export interface RunResult {
  outputs: Record<string, WireTensor>;
  /** The model's own run, conversions at its boundary excluded. */
  runMs: number;
}

/**
 * `lent`: the lent feeds' buffers (by input name) and `into`'s (by output name), moved back to their
 * owner whether the run succeeded or not.
 */
export type SessionReply = { id: number; lent?: { feeds: Record<string, ort.Tensor.DataType>; into: Record<string, ort.Tensor.DataType> } } & (
  | { value: OpenedSession | RunResult | number | null }
  | { error: string }
);

interface Open {
  session: ort.InferenceSession;
  /** Each input's element type, for converting float32 feeds to a float16 graph's. */
  types: Map<string, ort.Tensor.Type>;
  outputTypes: Map<string, ort.Tensor.Type>;
  held: Set<number>;
}

const sessions = new Map<number, Open>();
const held = new Map<number, { session: number; tensor: ort.Tensor }>();
let nextId = 0;

const tensorOf = (w: WireTensor): ort.Tensor => new ort.Tensor(w.type as "float32", w.data as Float32Array, w.dims);

function opened(id: number): Open {
  const s = sessions.get(id);
  if (!s) throw new Error(`session ${id} is not open on the session thread`);
  return s;
}

/** A float32 feed as the graph's input takes it: cast for a float16 input, unchanged otherwise. */
function toInput(s: Open, name: string, tensor: ort.Tensor): Promise<ort.Tensor> | ort.Tensor {
  return tensor.type === "float32" && s.types.get(name) === "float16" ? castTensor(tensor, "float16") : tensor;
}

async function handle(req: SessionRequest): Promise<{ value: OpenedSession | RunResult | number | null; transfer: ArrayBuffer[] }> {
  switch (req.op) {
    case "ping":
      return { value: null, transfer: [] };
    case "open": {
      const { source, options } = req;
      const session = await (typeof source === "string" ? ort.InferenceSession.create(source, options) : ort.InferenceSession.create(source, options));
      const id = ++nextId;
      const types = new Map<string, ort.Tensor.Type>();
      const outputTypes = new Map<string, ort.Tensor.Type>();
      for (const m of session.inputMetadata) if (m.isTensor) types.set(m.name, m.type);
      for (const m of session.outputMetadata) if (m.isTensor) outputTypes.set(m.name, m.type);
      sessions.set(id, { session, types, outputTypes, held: new Set() });
      const value: OpenedSession = { session: id, inputNames: session.inputNames, outputNames: session.outputNames, inputMetadata: session.inputMetadata, outputMetadata: session.outputMetadata };
      return { value, transfer: [] };
    }
    case "run": {
      const s = opened(req.session);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, feed] of Object.entries(req.feeds)) {
        if ("held" in feed) {
          const h = held.get(feed.held);
          if (!h || h.session !== req.session) throw new Error(`input ${name}: held tensor ${feed.held} is not held for this session`);
          feeds[name] = h.tensor;
        } else feeds[name] = await toInput(s, name, tensorOf(feed));
      }
      // Outputs with a float32 buffer of the caller's: a float32 output is written there by ONNX Runtime,
      // a float16 one cast into it, so a loop's outputs are no new allocation (and garbage) per run.
      const into = req.into ?? {};
      for (const name of Object.keys(into)) if (!s.outputTypes.has(name)) throw new Error(`the graph has no output ${name} (its outputs: ${s.session.outputNames.join(", ")})`);
      const fetches: Record<string, ort.Tensor | null> = Object.fromEntries(s.session.outputNames.map((name) => {
        const target = into[name];
        return [name, target && s.outputTypes.get(name) === "float32" ? tensorOf(target) : null];
      }));
      const started = performance.now();
      const out = await s.session.run(feeds, fetches);
      const runMs = performance.now() - started;
      const outputs: Record<string, WireTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, value] of Object.entries(out)) {
        const target = into[name];
        if (target) {
          if (value.type === "float16") await castTensor(value, "float32", target.data as Float32Array);
          else if (fetches[name] === null) throw new Error(`output ${name} is ${value.type}, not float32 or float16: it cannot be written into a float32 buffer`);
          continue; // the caller has it in its own buffer, moved back with the reply
        }
        const t = value.type === "float16" ? await castTensor(value, "float32") : value;
        const data = t.data as Exclude<ort.Tensor.DataType, string[]>;
        outputs[name] = { type: t.type, dims: t.dims, data };
        // ONNX Runtime's outputs are fresh buffers of their own: moved to the caller, not copied.
        if (!transfer.includes(data.buffer as ArrayBuffer)) transfer.push(data.buffer as ArrayBuffer);
      }
      return { value: { outputs, runMs } satisfies RunResult, transfer };
    }
    case "hold": {
      const s = opened(req.session);
      const id = ++nextId;
      held.set(id, { session: req.session, tensor: await toInput(s, req.name, tensorOf(req.tensor)) });
      s.held.add(id);
      return { value: id, transfer: [] };
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
