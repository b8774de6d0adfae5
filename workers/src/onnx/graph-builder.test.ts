import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { DataType, GraphBuilder } from "./graph-builder.js";

test("a built graph loads in ONNX Runtime and computes what it says", async () => {
  const g = new GraphBuilder("affine");
  const x = g.input("x", DataType.FLOAT, ["n", 3]);
  const y = g.op("Add", [g.op("Mul", [x, g.constant(Float32Array.of(1, 2, -3), [3])]), g.scalar(0.5)]);
  const rows = g.op("Gather", [g.op("Shape", [x]), g.constant(BigInt64Array.of(0n), [])], { axis: { int: 0 } });
  g.output(y, "y", DataType.FLOAT, ["n", 3]);
  g.output(rows, "rows", DataType.INT64, []);
  const bytes = g.build();
  assert.equal(bytes[0], 0x08, "starts like every ONNX file");
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ x: new ort.Tensor("float32", Float32Array.of(1, 1, 1, 2, -1, 0), [2, 3]) });
  assert.deepEqual(Array.from(out.y!.data as Float32Array), [1.5, 2.5, -2.5, 2.5, -1.5, 0.5]);
  assert.equal(out.rows!.data[0], 2n);
});
