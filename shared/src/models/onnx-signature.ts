import { open, stat, type FileHandle } from "node:fs/promises";

/** One graph input or output as the file declares it: rank undefined when the graph gives no shape. */
export interface TensorSignature {
  name: string;
  type: string;
  rank: number | undefined;
}

export interface GraphSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

/** onnx.proto's TensorProto.DataType codes, named as ONNX Runtime's JS API names them. */
const ELEMENT_TYPES: Record<number, string> = {
  1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
  9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16",
};

const CHUNK = 64 * 1024;

/** Reads a file at arbitrary offsets through one cached window: skipping weights costs one small read. */
class FileWindow {
  private start = 0;
  private bytes = new Uint8Array(0);
  constructor(private readonly fh: FileHandle, readonly size: number) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < this.start || offset + length > this.start + this.bytes.length) {
      const want = Math.min(Math.max(length, CHUNK), this.size - offset);
      const buf = new Uint8Array(want);
      const { bytesRead } = await this.fh.read(buf, 0, want, offset);
      this.start = offset;
      this.bytes = buf.subarray(0, bytesRead);
    }
    if (offset + length > this.start + this.bytes.length) throw new Error("truncated protobuf");
    return this.bytes.subarray(offset - this.start, offset - this.start + length);
  }
}

/** A varint at `at` in `bytes`: its value and the offset after it. */
function varint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const b = bytes[i]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [value, i + 1];
  }
  throw new Error("bad varint");
}

interface Field {
  field: number;
  wire: number;
  /** Where the field's payload starts and how long it is (varints: their value, length 0). */
  start: number;
  length: number;
  value: number;
}

/** The fields of a message held in memory. */
function* fields(bytes: Uint8Array): Generator<Field> {
  let at = 0;
  while (at < bytes.length) {
    const [tag, afterTag] = varint(bytes, at);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const [value, next] = varint(bytes, afterTag);
      yield { field, wire, start: afterTag, length: 0, value };
      at = next;
    } else if (wire === 2) {
      const [length, start] = varint(bytes, afterTag);
      yield { field, wire, start, length, value: 0 };
      at = start + length;
    } else if (wire === 1 || wire === 5) {
      at = afterTag + (wire === 1 ? 8 : 4);
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}

/** The length-delimited fields of a message region in a file, read header by header (payloads skipped). */
async function* fileFields(w: FileWindow, from: number, to: number): AsyncGenerator<Field> {
  let at = from;
  while (at < to) {
    const head = await w.read(at, Math.min(20, to - at));
    const [tag, afterTag] = varint(head, 0);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      at += varint(head, afterTag)[1];
    } else if (wire === 2) {
      const [length, start] = varint(head, afterTag);
      yield { field, wire, start: at + start, length, value: 0 };
      at += start + length;
    } else if (wire === 1 || wire === 5) {
      at += afterTag + (wire === 1 ? 8 : 4);
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
  if (at !== to) throw new Error("truncated protobuf");
}

const sub = (bytes: Uint8Array, f: Field) => bytes.subarray(f.start, f.start + f.length);

/** ValueInfoProto { name = 1; type = 2 } with TypeProto { tensor_type = 1 { elem_type = 1; shape = 2 { dim = 1 } } }. */
function valueInfo(bytes: Uint8Array): TensorSignature {
  let name = "";
  let type = "non-tensor";
  let rank: number | undefined;
  for (const f of fields(bytes)) {
    if (f.field === 1 && f.wire === 2) name = new TextDecoder().decode(sub(bytes, f));
    if (f.field !== 2 || f.wire !== 2) continue;
    const typeProto = sub(bytes, f);
    for (const t of fields(typeProto)) {
      if (t.field !== 1 || t.wire !== 2) continue;
      const tensor = sub(typeProto, t);
      for (const e of fields(tensor)) {
        if (e.field === 1 && e.wire === 0) type = ELEMENT_TYPES[e.value] ?? `type ${e.value}`;
        if (e.field === 2 && e.wire === 2) rank = [...fields(sub(tensor, e))].filter((d) => d.field === 1).length;
      }
    }
  }
  return { name, type, rank };
}

async function readSignature(file: string): Promise<GraphSignature> {
  const fh = await open(file, "r");
  try {
    const w = new FileWindow(fh, (await fh.stat()).size);
    for await (const f of fileFields(w, 0, w.size)) {
      if (f.field !== 7) continue; // ModelProto.graph
      const signature: GraphSignature = { inputs: [], outputs: [] };
      for await (const g of fileFields(w, f.start, f.start + f.length)) {
        // GraphProto.input = 11, output = 12; nodes and initializers (the weights) are skipped unread.
        if (g.field === 11 || g.field === 12) {
          const info = valueInfo(new Uint8Array(await w.read(g.start, g.length)));
          (g.field === 11 ? signature.inputs : signature.outputs).push(info);
        }
      }
      return signature;
    }
    throw new Error("the file holds no graph");
  } finally {
    await fh.close();
  }
}

const cache = new Map<string, { size: number; mtimeMs: number; signature: Promise<GraphSignature> }>();

/**
 * The inputs and outputs an ONNX file declares, read without loading it: only the graph's input and
 * output records are read, nodes and weights are skipped. Kept per file until its size or mtime changes,
 * so inspecting a model on every submission stays cheap.
 */
export async function readGraphSignature(file: string): Promise<GraphSignature> {
  const info = await stat(file);
  const hit = cache.get(file);
  if (hit && hit.size === info.size && hit.mtimeMs === info.mtimeMs) return hit.signature;
  const signature = readSignature(file);
  cache.set(file, { size: info.size, mtimeMs: info.mtimeMs, signature });
  signature.catch(() => cache.delete(file));
  return signature;
}
