import assert from "node:assert/strict";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { DataType, encodeModel, type TensorInit } from "./onnx-proto.js";
import { readOnnxGraph } from "./onnx-structure.js";

/** Why the file is not a sound graph, or undefined. */
const problemOf = async (file: string) => (await readOnnxGraph(file)).problem;

/** A transformer-shaped graph: out = hidden_states * weight + timestep + encoder_hidden_states. */
function transformer(weight: TensorInit = { name: "weight", dims: [4], data: Float32Array.of(1, 2, 3, 4) }): Uint8Array {
  return encodeModel({
    name: "t",
    opset: 17,
    inputs: [
      { name: "hidden_states", type: DataType.FLOAT, dims: [4] },
      { name: "timestep", type: DataType.FLOAT, dims: [1] },
      { name: "encoder_hidden_states", type: DataType.FLOAT, dims: [4] },
    ],
    outputs: [{ name: "out_hidden_states", type: DataType.FLOAT, dims: [4] }],
    initializers: [weight],
    nodes: [
      { op: "Mul", name: "mul", inputs: ["hidden_states", "weight"], outputs: ["scaled"] },
      { op: "Add", name: "add", inputs: ["scaled", "timestep"], outputs: ["shifted"] },
      { op: "Add", name: "add2", inputs: ["shifted", "encoder_hidden_states"], outputs: ["out_hidden_states"] },
    ],
  });
}

async function withFile(t: { after: (fn: () => Promise<void>) => void }, body: Uint8Array): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "onnx-structure-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "model.onnx");
  await writeFile(file, body);
  return file;
}

test("a sound graph passes; a changed file is parsed again", async (t) => {
  const file = await withFile(t, transformer());
  assert.equal(await problemOf(file), undefined);
  await writeFile(file, transformer().subarray(0, 40));
  assert.match((await problemOf(file)) ?? "", /runs past/);
});

test("a truncated file is found, wherever it is cut", async (t) => {
  const good = transformer();
  const file = await withFile(t, good);
  for (const keep of [good.length - 1, Math.floor(good.length / 2), 20]) {
    await writeFile(file, good);
    await truncate(file, keep);
    assert.match((await problemOf(file)) ?? "", /runs past|cut off|ends/, `cut at ${keep}`);
  }
});

test("a corrupted length in the middle of the file is found", async (t) => {
  const bad = Buffer.from(transformer());
  // The length byte of the second node's operator name, about half way through the file.
  const at = bad.indexOf("add2") + "add2".length + 1;
  assert.equal(bad.toString("latin1", at + 1, at + 4), "Add");
  bad[at] = 0x7f;
  const file = await withFile(t, bad);
  assert.match((await problemOf(file)) ?? "", /runs past its message/);
});

test("a sound graph gives its inputs and outputs by name, element type and rank, initializers left out", async (t) => {
  const file = await withFile(
    t,
    encodeModel({
      name: "s",
      opset: 17,
      inputs: [
        { name: "input_ids", type: DataType.INT64, dims: ["batch", "sequence"] },
        { name: "weight", type: DataType.FLOAT, dims: [4] }, // also an initializer, as older exporters list them
      ],
      outputs: [{ name: "last_hidden_state", type: DataType.FLOAT16, dims: ["batch", "sequence", 4] }],
      initializers: [{ name: "weight", dims: [4], data: Float32Array.of(1, 2, 3, 4) }],
      nodes: [{ op: "Gather", name: "embed", inputs: ["weight", "input_ids"], outputs: ["last_hidden_state"] }],
    }),
  );
  const reading = await readOnnxGraph(file);
  assert.deepEqual(reading, {
    signature: {
      inputs: [{ name: "input_ids", type: "int64", rank: 2 }],
      outputs: [{ name: "last_hidden_state", type: "float16", rank: 3 }],
    },
  });
});

test("a graph output that nothing computes is refused", async (t) => {
  const file = await withFile(t, transformer());
  const renamed = Buffer.from(Buffer.from(transformer()).toString("latin1").replace("out_hidden_states\u0012", "out_hidden_stateX\u0012"), "latin1");
  await writeFile(file, renamed);
  assert.match((await problemOf(file)) ?? "", /graph output "out_hidden_stateX" is computed by no node/);
});

test("external data files must exist with the bytes the initializers reference", async (t) => {
  const plain = transformer();
  const file = await withFile(t, plain);
  // Rewrite the initializer by hand: data_location EXTERNAL (14 = 1) with location/offset/length entries.
  const entry = (k: string, v: string) => Buffer.concat([Buffer.from([0x0a, k.length]), Buffer.from(k), Buffer.from([0x12, v.length]), Buffer.from(v)]);
  const entries = [entry("location", "model.onnx_data"), entry("offset", "0"), entry("length", "16")];
  const tensor = Buffer.concat([
    Buffer.from([0x08, 0x04, 0x10, 0x01, 0x42, 0x06]), Buffer.from("weight"),
    ...entries.flatMap((e) => [Buffer.from([0x6a, e.length]), e]),
    Buffer.from([0x70, 0x01]),
  ]);
  const model = encodeModel({
    name: "t", opset: 17,
    inputs: [
      { name: "hidden_states", type: DataType.FLOAT, dims: [4] },
      { name: "timestep", type: DataType.FLOAT, dims: [1] },
      { name: "encoder_hidden_states", type: DataType.FLOAT, dims: [4] },
    ],
    outputs: [{ name: "out_hidden_states", type: DataType.FLOAT, dims: [4] }],
    initializers: [],
    nodes: [
      { op: "Mul", name: "mul", inputs: ["hidden_states", "weight"], outputs: ["scaled"] },
      { op: "Add", name: "add", inputs: ["scaled", "timestep"], outputs: ["shifted"] },
      { op: "Add", name: "add2", inputs: ["shifted", "encoder_hidden_states"], outputs: ["out_hidden_states"] },
    ],
  });
  // Splice the tensor into the graph (field 7): graph bytes + one more field 5 entry, lengths redone.
  const graphAt = Buffer.from(model).indexOf(0x3a);
  let len = 0;
  let shift = 0;
  let p = graphAt + 1;
  for (;;) {
    const b = model[p++]!;
    len |= (b & 0x7f) << shift;
    shift += 7;
    if ((b & 0x80) === 0) break;
  }
  const graph = Buffer.concat([Buffer.from(model.subarray(p, p + len)), Buffer.from([0x2a, tensor.length]), tensor]);
  const varint = (n: number) => (n < 128 ? Buffer.from([n]) : Buffer.from([(n & 0x7f) | 0x80, n >> 7]));
  await writeFile(file, Buffer.concat([Buffer.from(model.subarray(0, graphAt)), Buffer.from([0x3a]), varint(graph.length), graph, Buffer.from(model.subarray(p + len))]));
  assert.match((await problemOf(file)) ?? "", /external data file model\.onnx_data is missing/);
  const data = path.join(path.dirname(file), "model.onnx_data");
  await writeFile(data, Buffer.alloc(8));
  assert.match((await problemOf(file)) ?? "", /has 8 bytes; the initializers reference 16/);
  await writeFile(data, Buffer.alloc(16));
  assert.equal(await problemOf(file), undefined);
});

test("a flipped weight byte keeps the structure sound: only a checksum can see it", async (t) => {
  const bad = Buffer.from(transformer());
  const weights = Buffer.from(Float32Array.of(1, 2, 3, 4).buffer);
  const at = bad.indexOf(weights) + 5;
  bad[at] = bad[at]! ^ 0x01;
  const file = await withFile(t, bad);
  assert.equal(await problemOf(file), undefined);
});
