import { open, stat, type FileHandle } from "node:fs/promises";
import path from "node:path";

/**
 * The one reader of ONNX files outside ONNX Runtime. It checks a file's structure without loading its
 * weights: the protobuf decodes to its last byte (every field's length inside its parent, valid wire
 * types and UTF-8 names), every node's inputs and the graph's outputs are defined, and external data
 * files exist with the bytes the initializers reference. It also gives the graph's inputs and outputs
 * (name, element type, rank), which the family contracts (families/contract.ts) are checked against.
 * Weight bytes are skipped, never read, so a graph of many GB with inline weights costs one pass over
 * its tags. Field numbers are onnx.proto's.
 */

/** One graph input or output as the file declares it: rank undefined when the graph gives no shape. */
export interface TensorSignature {
  name: string;
  type: string;
  rank: number | undefined;
}

/** The inputs a caller feeds (initializers left out, as ONNX Runtime's session metadata leaves them) and the outputs. */
export interface GraphSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

/** onnx.proto's TensorProto.DataType codes, named as ONNX Runtime's JS API names them. */
const ELEMENT_TYPES: Record<number, string> = {
  1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
  9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16",
};

class Broken extends Error {}

const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;
const CHUNK = 64 * 1024;
const MAX_NAME_BYTES = 1 << 20;
const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Bytes per element of onnx.proto's TensorProto.DataType, where fixed. */
const ELEMENT_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

/** Sequential reads over a file through a window, so skipping weights costs nothing. */
class Reader {
  pos = 0;
  private buf = Buffer.alloc(0);
  private bufStart = 0;

  constructor(private readonly fh: FileHandle, readonly size: number) {}

  private async fill(): Promise<void> {
    const { buffer, bytesRead } = await this.fh.read(Buffer.alloc(CHUNK), 0, CHUNK, this.pos);
    this.buf = buffer.subarray(0, bytesRead);
    this.bufStart = this.pos;
  }

  async byte(end: number): Promise<number> {
    if (this.pos >= end) throw new Broken(`a field is cut off at byte ${this.pos}`);
    if (this.pos < this.bufStart || this.pos >= this.bufStart + this.buf.length) await this.fill();
    const b = this.buf[this.pos - this.bufStart];
    if (b === undefined) throw new Broken(`the file ends at byte ${this.pos}, inside a field`);
    this.pos++;
    return b;
  }

  async varint(end: number): Promise<number> {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = await this.byte(end);
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new Broken(`a number longer than ten bytes at byte ${this.pos}`);
  }

  async bytes(len: number): Promise<Buffer> {
    const { buffer, bytesRead } = await this.fh.read(Buffer.alloc(len), 0, len, this.pos);
    if (bytesRead !== len) throw new Broken(`the file ends inside a field at byte ${this.pos}`);
    this.pos += len;
    return buffer;
  }
}

type FieldHandler = (field: number, wire: number, value: number) => Promise<void>;

/**
 * Walks one message from `r.pos` to `end`. For a length-delimited field `value` is its length and the
 * handler must consume exactly that many bytes (or leave them: they are skipped); otherwise the number.
 */
async function walk(r: Reader, end: number, onField: FieldHandler = async () => undefined): Promise<void> {
  while (r.pos < end) {
    const at = r.pos;
    const tag = await r.varint(end);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw new Broken(`field number 0 at byte ${at}`);
    if (wire === WIRE.VARINT) await onField(field, wire, await r.varint(end));
    else if (wire === WIRE.I64 || wire === WIRE.I32) {
      const width = wire === WIRE.I64 ? 8 : 4;
      if (r.pos + width > end) throw new Broken(`a fixed-size field runs past its message at byte ${at}`);
      r.pos += width;
    } else if (wire === WIRE.LEN) {
      const len = await r.varint(end);
      const fieldEnd = r.pos + len;
      if (fieldEnd > end) throw new Broken(`a field of ${len} bytes at byte ${at} runs past ${end === r.size ? "the end of the file" : "its message"}`);
      await onField(field, wire, len);
      if (r.pos > fieldEnd) throw new Broken(`a message at byte ${at} overruns its length`);
      r.pos = fieldEnd;
    } else throw new Broken(`invalid wire type ${wire} at byte ${at}`);
  }
  if (r.pos !== end) throw new Broken(`a field runs past its message at byte ${r.pos}`);
}

async function text(r: Reader, len: number): Promise<string> {
  if (len > MAX_NAME_BYTES) throw new Broken(`a name of ${len} bytes at byte ${r.pos}`);
  const at = r.pos;
  try {
    return utf8.decode(await r.bytes(len));
  } catch (err) {
    if (err instanceof Broken) throw err;
    throw new Broken(`a name at byte ${at} is not UTF-8`);
  }
}

interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  external: Record<string, string>;
  externalLocation: boolean;
}

async function tensor(r: Reader, end: number): Promise<Initializer> {
  const t: Initializer = { name: "", dims: [], dataType: 0, external: {}, externalLocation: false };
  await walk(r, end, async (field, wire, value) => {
    if (field === 1 && wire === WIRE.VARINT) t.dims.push(value);
    else if (field === 1 && wire === WIRE.LEN) {
      const stop = r.pos + value;
      while (r.pos < stop) t.dims.push(await r.varint(stop));
    } else if (field === 2 && wire === WIRE.VARINT) t.dataType = value;
    else if (field === 8 && wire === WIRE.LEN) t.name = await text(r, value);
    else if (field === 14 && wire === WIRE.VARINT) t.externalLocation = value === 1;
    else if (field === 13 && wire === WIRE.LEN) {
      const entry = { key: "", value: "" };
      await walk(r, r.pos + value, async (f, w, len) => {
        if (w !== WIRE.LEN) return;
        if (f === 1) entry.key = await text(r, len);
        else if (f === 2) entry.value = await text(r, len);
      });
      t.external[entry.key] = entry.value;
    }
    // raw_data (9) and the typed data fields are weights: skipped by walk.
  });
  return t;
}

/** ValueInfoProto { name = 1; type = 2 } with TypeProto { tensor_type = 1 { elem_type = 1; shape = 2 { dim = 1 } } }. */
async function valueInfo(r: Reader, end: number): Promise<TensorSignature> {
  const v: TensorSignature = { name: "", type: "non-tensor", rank: undefined };
  await walk(r, end, async (field, wire, len) => {
    if (wire !== WIRE.LEN) return;
    if (field === 1) v.name = await text(r, len);
    else if (field === 2) {
      await walk(r, r.pos + len, async (f, w, l) => {
        if (f !== 1 || w !== WIRE.LEN) return; // sequence, map and optional types stay "non-tensor"
        await walk(r, r.pos + l, async (tf, tw, tv) => {
          if (tf === 1 && tw === WIRE.VARINT) v.type = ELEMENT_TYPES[tv] ?? `type ${tv}`;
          else if (tf === 2 && tw === WIRE.LEN) {
            v.rank = 0;
            await walk(r, r.pos + tv, async (df) => {
              if (df === 1) v.rank!++;
            });
          }
        });
      });
    }
  });
  return v;
}

interface Graph {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
  initializers: Initializer[];
  nodes: { op: string; inputs: string[]; outputs: string[] }[];
}

async function graph(r: Reader, end: number): Promise<Graph> {
  const g: Graph = { inputs: [], outputs: [], initializers: [], nodes: [] };
  await walk(r, end, async (field, wire, len) => {
    if (wire !== WIRE.LEN) return;
    const stop = r.pos + len;
    if (field === 1) {
      const n = { op: "", inputs: [] as string[], outputs: [] as string[] };
      await walk(r, stop, async (f, w, l) => {
        if (w !== WIRE.LEN) return;
        if (f === 1) n.inputs.push(await text(r, l));
        else if (f === 2) n.outputs.push(await text(r, l));
        else if (f === 4) n.op = await text(r, l);
        else if (f === 5) await walk(r, r.pos + l); // an attribute: its structure, not its meaning
      });
      g.nodes.push(n);
    } else if (field === 5) g.initializers.push(await tensor(r, stop));
    else if (field === 11) g.inputs.push(await valueInfo(r, stop));
    else if (field === 12) g.outputs.push(await valueInfo(r, stop));
  });
  return g;
}

/** An external data file and how many bytes of it the initializers reference. */
export interface ExternalData {
  file: string;
  neededBytes: number;
}

/** Every value a node reads is a graph input, an initializer or another node's output; so is every graph output. */
function checkWiring(g: Graph): void {
  if (g.outputs.length === 0) throw new Broken("the graph has no outputs");
  const defined = new Set([...g.inputs.map((i) => i.name), ...g.initializers.map((t) => t.name), ...g.nodes.flatMap((n) => n.outputs)]);
  for (const n of g.nodes) {
    if (!n.op) throw new Broken("a node has no operator");
    const undefinedInput = n.inputs.find((i) => i !== "" && !defined.has(i));
    if (undefinedInput !== undefined) throw new Broken(`node ${n.op} reads "${undefinedInput}", which nothing defines`);
  }
  const undefinedOutput = g.outputs.find((o) => !defined.has(o.name));
  if (undefinedOutput !== undefined) throw new Broken(`graph output "${undefinedOutput.name}" is computed by no node`);
}

/** What a caller feeds and reads: graph inputs that are initializers (older exporters list them) are not fed. */
function signature(g: Graph): GraphSignature {
  const initializers = new Set(g.initializers.map((t) => t.name));
  return { inputs: g.inputs.filter((i) => !initializers.has(i.name)), outputs: g.outputs };
}

/** Bytes of each external file the initializers reference, from their offsets and lengths (or shapes). */
function externalData(g: Graph, modelFile: string): ExternalData[] {
  const dir = path.dirname(modelFile);
  const needed = new Map<string, number>();
  for (const t of g.initializers.filter((i) => i.externalLocation)) {
    const location = t.external.location;
    if (!location) throw new Broken(`initializer ${t.name} keeps its data outside the file but names no location`);
    const file = path.resolve(dir, location);
    if (path.relative(dir, file).startsWith("..") || path.isAbsolute(location)) {
      throw new Broken(`initializer ${t.name}'s data file ${location} is outside the model's folder`);
    }
    const offset = Number(t.external.offset ?? 0);
    const elementBytes = ELEMENT_BYTES[t.dataType];
    const length = t.external.length !== undefined ? Number(t.external.length) : elementBytes ? t.dims.reduce((a, d) => a * d, elementBytes) : 0;
    if (!Number.isFinite(offset) || !Number.isFinite(length)) throw new Broken(`initializer ${t.name} has an unreadable offset or length`);
    needed.set(file, Math.max(needed.get(file) ?? 0, offset + length));
  }
  return [...needed].map(([file, neededBytes]) => ({ file, neededBytes }));
}

/** What is wrong with the external files, or undefined: checked on every inspection (one stat each). */
async function checkExternal(files: ExternalData[], modelFile: string): Promise<string | undefined> {
  for (const { file, neededBytes } of files) {
    const rel = path.relative(path.dirname(modelFile), file);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return `its external data file ${rel} is missing`;
    if (info.size < neededBytes) return `its external data file ${rel} has ${info.size} bytes; the initializers reference ${neededBytes}`;
  }
  return undefined;
}

type Parsed = { reason: string } | { reason?: undefined; signature: GraphSignature; external: ExternalData[] };

async function parse(file: string, size: number): Promise<Parsed> {
  const fh = await open(file, "r");
  try {
    const r = new Reader(fh, size);
    let irVersion = 0;
    let opsets = 0;
    let g: Graph | undefined;
    await walk(r, size, async (field, wire, value) => {
      if (field === 1 && wire === WIRE.VARINT) irVersion = value;
      else if (field === 8 && wire === WIRE.LEN) opsets++;
      else if (field === 7 && wire === WIRE.LEN) {
        if (g) throw new Broken("it holds two graphs");
        g = await graph(r, r.pos + value);
      }
    });
    if (irVersion === 0) throw new Broken("it has no ir_version");
    if (opsets === 0) throw new Broken("it imports no operator set");
    if (!g) throw new Broken("it has no graph");
    checkWiring(g);
    return { signature: signature(g), external: externalData(g, file) };
  } catch (err) {
    if (err instanceof Broken) return { reason: err.message };
    throw err;
  } finally {
    await fh.close();
  }
}

/** Parse results by file, valid while the file's size, mtime and inode are unchanged. */
const parsed = new Map<string, { id: string; result: Promise<Parsed> }>();

/** A sound graph's inputs and outputs, or why the file is not a sound ONNX graph. */
export type OnnxGraphReading = { problem: string } | { problem?: undefined; signature: GraphSignature };

/**
 * Reads an ONNX file's structure and signature (see the top of this file). A file is parsed again only
 * when it changes, so API submissions and model listings can call this freely; external data files are
 * looked at every time (one stat each).
 */
export async function readOnnxGraph(file: string): Promise<OnnxGraphReading> {
  const info = await stat(file);
  const id = `${info.size}:${info.mtimeMs}:${info.ino}`;
  let hit = parsed.get(file);
  if (hit?.id !== id) {
    hit = { id, result: parse(file, info.size) };
    parsed.set(file, hit);
    hit.result.catch(() => parsed.delete(file));
  }
  const result = await hit.result;
  if (result.reason !== undefined) return { problem: result.reason };
  const problem = await checkExternal(result.external, file);
  return problem ? { problem } : { signature: result.signature };
}
