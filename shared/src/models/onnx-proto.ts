/**
 * A minimal protobuf encoder for the parts of onnx.proto the project writes (models, graphs, nodes,
 * attributes, tensors, value infos). Field numbers are onnx.proto's; only what we emit is covered. Used
 * by the tiny model's generator (workers), the structure check's tests (onnx-structure.ts) and the
 * workers' boundary casts (which re-encode a parsed graph's inputs and outputs).
 */
export const DataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, BFLOAT16: 16 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

const AttrType = { FLOAT: 1, INT: 2, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

/** A protobuf message built field by field (also used to re-encode parts of a parsed model). */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];

  /** Bytes already encoded as whole fields (copied from another message). */
  raw(bytes: Uint8Array): this {
    this.parts.push(bytes);
    return this;
  }

  private varint(value: bigint): void {
    // int64 fields: negatives are ten-byte two's complement varints.
    let v = BigInt.asUintN(64, value);
    const bytes: number[] = [];
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      bytes.push(b);
    } while (v > 0n);
    this.parts.push(Uint8Array.from(bytes));
  }

  private tag(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(BigInt(value));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.parts.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(BigInt(value.length));
    this.parts.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, w: ProtoWriter): this {
    return this.bytes(field, w.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface TensorInit {
  name: string;
  dims: number[];
  data: TensorData;
}

/**
 * An initializer whose bytes live in a file beside the model (ONNX external data, what graphs over
 * protobuf's 2 GiB limit need): `location` is relative to the model file; the caller writes the bytes.
 */
export interface ExternalTensorInit {
  name: string;
  dims: number[];
  type: DataTypeCode;
  location: string;
  offset: number;
  length: number;
}

export type Attribute = number | number[] | { floats: number[] } | { int: number } | TensorInit;

export interface NodeInit {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attributes?: Record<string, Attribute>;
}

export interface ValueInfoInit {
  name: string;
  type: DataTypeCode;
  /** A number is a fixed size, a string a symbolic dimension. */
  dims: (number | string)[];
}

function dataTypeOf(data: TensorData): DataTypeCode {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof BigInt64Array) return DataType.INT64;
  if (data instanceof Int32Array) return DataType.INT32;
  return DataType.UINT8;
}

function tensor(t: TensorInit): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, dataTypeOf(t.data));
  w.string(8, t.name);
  // raw_data is little-endian, as typed arrays are on every platform Node runs on here.
  return w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function externalTensor(t: ExternalTensorInit): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.type);
  w.string(8, t.name);
  for (const [key, value] of [["location", t.location], ["offset", String(t.offset)], ["length", String(t.length)]] as const) {
    w.message(13, new ProtoWriter().string(1, key).string(2, value));
  }
  return w.int(14, 1); // data_location: EXTERNAL
}

function attribute(name: string, a: Attribute): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof a === "number") return w.float(2, a).int(20, AttrType.FLOAT);
  if (Array.isArray(a)) {
    for (const i of a) w.int(8, i);
    return w.int(20, AttrType.INTS);
  }
  if ("floats" in a) {
    for (const f of a.floats) w.float(7, f);
    return w.int(20, AttrType.FLOATS);
  }
  if ("int" in a) return w.int(3, a.int).int(20, AttrType.INT);
  return w.message(5, tensor(a)).int(20, AttrType.TENSOR);
}

function node(n: NodeInit): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.op);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.message(5, attribute(k, v));
  return w;
}

function valueInfo(v: ValueInfoInit): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) shape.message(1, typeof d === "number" ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, v.type).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

export interface ModelInit {
  name: string;
  nodes: NodeInit[];
  initializers: TensorInit[];
  externalInitializers?: ExternalTensorInit[];
  inputs: ValueInfoInit[];
  outputs: ValueInfoInit[];
  opset: number;
}

/** Serialises a ModelProto. ir_version comes first, so the file starts with byte 0x08 as ONNX files do. */
export function encodeModel(m: ModelInit): Uint8Array {
  const graph = new ProtoWriter();
  for (const n of m.nodes) graph.message(1, node(n));
  graph.string(2, m.name);
  for (const t of m.initializers) graph.message(5, tensor(t));
  for (const t of m.externalInitializers ?? []) graph.message(5, externalTensor(t));
  for (const i of m.inputs) graph.message(11, valueInfo(i));
  for (const o of m.outputs) graph.message(12, valueInfo(o));
  return new ProtoWriter()
    .int(1, 8)
    .string(2, "videosdgx")
    .message(7, graph)
    .message(8, new ProtoWriter().string(1, "").int(2, m.opset))
    .finish();
}
