import { ProtoWriter } from "@videosdgx/shared";

/**
 * Moves a graph's float16 and bfloat16 boundary into the graph: each such input becomes a float32 input
 * followed by a Cast node, each such output a Cast node to a float32 output. Real exports are float16 at
 * their boundary while latents and samplers stay float32; with the casts in the graph the conversion runs
 * where the model runs (on the GPU in production, in ONNX Runtime's own kernels here), never as extra
 * host passes and copies, and bfloat16 graphs, which onnxruntime-node cannot feed, can be fed.
 * Works on the serialised ModelProto: every field is copied as it is but the graph's inputs and outputs,
 * so the weights (inline or external) are untouched. Field numbers are onnx.proto's.
 */

/** ONNX element types widened to float32 at the boundary. */
const HALF_TYPES: ReadonlySet<number> = new Set([10, 16]); // FLOAT16, BFLOAT16
const FLOAT = 1;
const LEN = 2;
const VARINT = 0;

/** A field of a message: where its bytes are, and for a length-delimited one its payload. */
interface Field {
  number: number;
  wire: number;
  start: number;
  end: number;
  payload?: { start: number; end: number };
  value?: number;
}

function readVarint(bytes: Uint8Array, pos: number): { value: number; pos: number } {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const b = bytes[pos++];
    if (b === undefined) throw new Error("the model ends inside a number");
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return { value, pos };
    scale *= 128;
  }
  throw new Error("a number longer than ten bytes");
}

function fields(bytes: Uint8Array, start: number, end: number): Field[] {
  const out: Field[] = [];
  let pos = start;
  while (pos < end) {
    const at = pos;
    const tag = readVarint(bytes, pos);
    pos = tag.pos;
    const number = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    if (wire === VARINT) {
      const v = readVarint(bytes, pos);
      pos = v.pos;
      out.push({ number, wire, start: at, end: pos, value: v.value });
    } else if (wire === LEN) {
      const len = readVarint(bytes, pos);
      const payload = { start: len.pos, end: len.pos + len.value };
      if (payload.end > end) throw new Error(`a field at byte ${at} runs past its message`);
      pos = payload.end;
      out.push({ number, wire, start: at, end: pos, payload });
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      out.push({ number, wire, start: at, end: pos });
    } else throw new Error(`invalid wire type ${wire} at byte ${at}`);
  }
  if (pos !== end) throw new Error(`a field runs past its message at byte ${pos}`);
  return out;
}

const utf8 = new TextDecoder();

/** A graph input or output: its name and, for a tensor, its element type and raw shape. */
interface Boundary {
  field: Field;
  name: string;
  elemType?: number;
  shape?: Uint8Array;
}

/** ValueInfoProto { name = 1; type = 2 { tensor_type = 1 { elem_type = 1; shape = 2 } } }. */
function boundary(bytes: Uint8Array, field: Field): Boundary {
  const b: Boundary = { field, name: "" };
  for (const f of fields(bytes, field.payload!.start, field.payload!.end)) {
    if (f.number === 1 && f.payload) b.name = utf8.decode(bytes.subarray(f.payload.start, f.payload.end));
    if (f.number !== 2 || !f.payload) continue;
    const tensorType = fields(bytes, f.payload.start, f.payload.end).find((t) => t.number === 1 && t.payload);
    if (!tensorType) continue;
    for (const t of fields(bytes, tensorType.payload!.start, tensorType.payload!.end)) {
      if (t.number === 1 && t.wire === VARINT) b.elemType = t.value;
      if (t.number === 2 && t.payload) b.shape = bytes.subarray(t.start, t.end);
    }
  }
  return b;
}

function float32ValueInfo(name: string, shape: Uint8Array | undefined): ProtoWriter {
  const tensorType = new ProtoWriter().int(1, FLOAT);
  if (shape) tensorType.raw(shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

/** NodeProto { input = 1; output = 2; name = 3; op_type = 4; attribute = 5 { name = 1; i = 3; type = 20 (INT = 2) } }. */
function castNode(from: string, to: string, type: number): ProtoWriter {
  const attribute = new ProtoWriter().string(1, "to").int(3, type).int(20, 2);
  return new ProtoWriter().string(1, from).string(2, to).string(3, `videosdgx_boundary_cast_${to}`).string(4, "Cast").message(5, attribute);
}

export interface BoundaryCasts {
  /** The model with its casts, to be opened in place of the original. */
  model: Uint8Array;
  /** Original input and output names to the names the rewritten graph has for them. */
  inputs: Map<string, string>;
  outputs: Map<string, string>;
  /** The element type each of them has in the file. */
  types: Map<string, "float16" | "bfloat16">;
}

/**
 * The model with a float32 boundary in place of its float16 and bfloat16 one, or undefined when it has
 * none. The new boundary names are the old ones with a suffix (the graph's own names stay inside it).
 */
export function castBoundaryToFloat32(model: Uint8Array): BoundaryCasts | undefined {
  try {
    return rewrite(model);
  } catch (err) {
    throw new Error(`cannot parse the model: ${(err as Error).message}`);
  }
}

function rewrite(model: Uint8Array): BoundaryCasts | undefined {
  const top = fields(model, 0, model.length);
  const graphField = top.find((f) => f.number === 7 && f.payload);
  if (!graphField) throw new Error("the model has no graph");
  const graph = fields(model, graphField.payload!.start, graphField.payload!.end);
  const initializerNames = new Set<string>();
  const taken = new Set<string>();
  for (const f of graph) {
    if (!f.payload) continue;
    // Initializers (5) and node outputs (1 -> 2) are the names a new boundary name must not take.
    if (f.number === 5) {
      const name = fields(model, f.payload.start, f.payload.end).find((t) => t.number === 8 && t.payload);
      if (name) initializerNames.add(utf8.decode(model.subarray(name.payload!.start, name.payload!.end)));
    } else if (f.number === 1) {
      for (const o of fields(model, f.payload.start, f.payload.end)) if (o.number === 2 && o.payload) taken.add(utf8.decode(model.subarray(o.payload.start, o.payload.end)));
    }
  }
  const half = (b: Boundary) => b.elemType !== undefined && HALF_TYPES.has(b.elemType);
  const ins = graph.filter((f) => f.number === 11 && f.payload).map((f) => boundary(model, f)).filter((b) => half(b) && !initializerNames.has(b.name));
  const outs = graph.filter((f) => f.number === 12 && f.payload).map((f) => boundary(model, f)).filter(half);
  if (ins.length === 0 && outs.length === 0) return undefined;
  for (const b of [...ins, ...outs]) taken.add(b.name);
  for (const n of initializerNames) taken.add(n);
  const outer = (name: string) => {
    let candidate = `${name}.float32`;
    for (let i = 2; taken.has(candidate); i++) candidate = `${name}.float32_${i}`;
    taken.add(candidate);
    return candidate;
  };
  const inputs = new Map(ins.map((b) => [b.name, outer(b.name)]));
  const outputs = new Map(outs.map((b) => [b.name, outer(b.name)]));
  const replaced = new Map<Field, ProtoWriter>();
  for (const b of ins) replaced.set(b.field, float32ValueInfo(inputs.get(b.name)!, b.shape));
  for (const b of outs) replaced.set(b.field, float32ValueInfo(outputs.get(b.name)!, b.shape));

  // Input casts before every node and output casts after them keep the nodes in topological order.
  const newGraph = new ProtoWriter();
  for (const b of ins) newGraph.message(1, castNode(inputs.get(b.name)!, b.name, b.elemType!));
  for (const f of graph) {
    const r = replaced.get(f);
    if (r) newGraph.message(f.number, r);
    else newGraph.raw(model.subarray(f.start, f.end));
  }
  for (const b of outs) newGraph.message(1, castNode(b.name, outputs.get(b.name)!, FLOAT));
  const rewritten = new ProtoWriter();
  for (const f of top) {
    if (f === graphField) rewritten.message(7, newGraph);
    else rewritten.raw(model.subarray(f.start, f.end));
  }
  const types = new Map([...ins, ...outs].map((b) => [b.name, b.elemType === 10 ? ("float16" as const) : ("bfloat16" as const)]));
  return { model: rewritten.finish(), inputs, outputs, types };
}
