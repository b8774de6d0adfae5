import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { castBoundaryToFloat32 } from "./boundary-casts.js";
import { DataType, GraphBuilder } from "./graph-builder.js";
import { ModelSession } from "./session-thread.js";

test("a graph with no float16 or bfloat16 boundary is left as it is", () => {
  const g = new GraphBuilder("f32");
  g.input("ids", DataType.INT64, [2]);
  g.output(g.op("Mul", [g.input("x", DataType.FLOAT, [2]), g.scalar(2)]), "y", DataType.FLOAT, [2]);
  assert.equal(castBoundaryToFloat32(g.build()), undefined);
});

test("the rewritten model has float32 inputs and outputs under new names; ORT opens it; names never clash", async () => {
  const g = new GraphBuilder("half");
  const x = g.input("x", DataType.FLOAT16, ["n"]);
  // A value inside the graph already named as the first choice of x's new name.
  const taken = g.op("Identity", [x], {}, "x.float32");
  g.input("ids", DataType.INT64, ["n"]);
  g.output(taken, "y", DataType.FLOAT16, ["n"]);
  const casts = castBoundaryToFloat32(g.build())!;
  assert.deepEqual([...casts.inputs], [["x", "x.float32_2"]]);
  assert.deepEqual([...casts.outputs], [["y", "y.float32"]]);
  assert.deepEqual([...casts.types], [["x", "float16"], ["y", "float16"]]);
  const session = await ort.InferenceSession.create(casts.model);
  const types = (meta: readonly ort.InferenceSession.ValueMetadata[]) => meta.map((m) => [m.name, m.isTensor && m.type, m.isTensor && m.shape]);
  assert.deepEqual(types(session.inputMetadata), [["x.float32_2", "float32", ["n"]], ["ids", "int64", ["n"]]], "shapes kept, other inputs untouched");
  assert.deepEqual(types(session.outputMetadata), [["y.float32", "float32", ["n"]]]);
  const out = await session.run({ "x.float32_2": new ort.Tensor("float32", Float32Array.of(0.5, 2), [2]), ids: new ort.Tensor("int64", BigInt64Array.of(1n, 2n), [2]) });
  assert.deepEqual(Array.from(out["y.float32"]!.data as Float32Array), [0.5, 2]);
  await session.release();
});

test("a float16 graph with external weights, opened by path, is cast at its boundary and finds its weights", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vdgx-boundary-"));
  try {
    const g = new GraphBuilder("external");
    const x = g.input("x", DataType.FLOAT16, [4]);
    const w = g.externalConstant(DataType.FLOAT16, [4], "weights.bin", 0, 8);
    g.output(g.op("Add", [x, w]), "y", DataType.FLOAT16, [4]);
    await writeFile(path.join(dir, "model.onnx"), g.build());
    // 1, 2, -0.5, 1024 as float16 bit patterns.
    await writeFile(path.join(dir, "weights.bin"), new Uint8Array(Uint16Array.of(0x3c00, 0x4000, 0xb800, 0x6400).buffer));
    const session = await ModelSession.open(path.join(dir, "model.onnx"));
    const { y } = await session.run({ x: new ort.Tensor("float32", Float32Array.of(1, 1, 1, 1), [4]) });
    assert.deepEqual(Array.from(y!.data as Float32Array), [2, 3, 0.5, 1025]);
    await session.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a model that is not protobuf is refused with where it breaks", () => {
  assert.throws(() => castBoundaryToFloat32(Uint8Array.of(0x3a, 0x05, 1)), /cannot parse the model: a field at byte 0 runs past its message/);
});
