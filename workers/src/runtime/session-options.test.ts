import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { loadConfig } from "@videosdgx/shared";
import { ModelSession } from "../onnx/session-thread.js";
import { DataType, GraphBuilder } from "../onnx/graph-builder.js";
import { sessionOptions } from "./session-options.js";

const spinning = (o: ort.InferenceSession.SessionOptions) => (o.extra as { session: { intra_op: { allow_spinning: string }; inter_op: { allow_spinning: string } } }).session;

test("thread pools sleep after a run unless ORT_SPIN_WAIT=true; ONNX Runtime takes both settings", async () => {
  const g = new GraphBuilder("id");
  const x = g.input("x", DataType.FLOAT, [1]);
  g.output(g.op("Mul", [x, g.scalar(2)]), "y", DataType.FLOAT, [1]);
  for (const [env, want] of [[{}, "0"], [{ ORT_SPIN_WAIT: "true" }, "1"]] as const) {
    const options = sessionOptions(loadConfig(env));
    assert.equal(spinning(options).intra_op.allow_spinning, want);
    assert.equal(spinning(options).inter_op.allow_spinning, want);
    const session = await ModelSession.open(g.build(), options);
    assert.deepEqual(Array.from((await session.run({ x: new ort.Tensor("float32", Float32Array.of(4), [1]) })).y!.data as Float32Array), [8]);
    await session.release();
  }
});
