import ort from "onnxruntime-node";
import { DataType, GraphBuilder } from "../onnx/graph-builder.js";

/**
 * Child process of the start-up provider check: `node provider-probe.js cuda`. Creates a session on a tiny
 * graph with that one provider and runs it, so loading the provider's libraries, opening the device and
 * launching a kernel (which fails when the build has no code for this GPU) all happen. ORT's detailed reason
 * goes to its log on stderr; the parent reads it. Prints the JS error text on stdout and exits 1 on failure.
 */
const provider = process.argv[2] ?? "";

function tinyGraph(): Uint8Array {
  const g = new GraphBuilder("provider-probe");
  const x = g.input("x", DataType.FLOAT, [4]);
  g.output(g.op("Add", [x, x]), "y", DataType.FLOAT, [4]);
  return g.build();
}

try {
  const session = await ort.InferenceSession.create(tinyGraph(), { executionProviders: [provider] });
  const input = Float32Array.of(1, 2, 3, 4);
  const { y } = await session.run({ x: new ort.Tensor("float32", input, [4]) });
  const got = Array.from(y!.data as Float32Array);
  if (got.join() !== "2,4,6,8") throw new Error(`the probe graph computed ${got.join()} instead of 2,4,6,8`);
  await session.release();
} catch (err) {
  process.stdout.write((err as Error).message);
  process.exitCode = 1;
}
