import assert from "node:assert/strict";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { DataType, GraphBuilder } from "./graph-builder.js";
import { LentTensor, ModelSession } from "./session-thread.js";

/** float16 in, float16 and float32 out: y = 3 * x in float16 arithmetic, z = x as float32. */
function halfGraph(): Uint8Array {
  const g = new GraphBuilder("half_io");
  const x = g.input("x", DataType.FLOAT16, ["n"]);
  const three = g.op("Cast", [g.scalar(3)], { to: { int: DataType.FLOAT16 } });
  g.output(g.op("Mul", [x, three]), "y", DataType.FLOAT16, ["n"]);
  g.output(g.op("Cast", [x], { to: { int: DataType.FLOAT } }), "z", DataType.FLOAT, ["n"]);
  return g.build();
}

/** |got - want| within float16's precision: a relative 2^-10 (two roundings), or its smallest subnormal. */
function closeInHalf(got: Float32Array, want: number[], what: string): void {
  want.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) <= Math.max(Math.abs(w) * 2 ** -10, 2 ** -24), `${what}[${i}]: ${got[i]} vs ${w}`));
}

test("a float16 graph is fed float32 and read back as float32, through Cast nodes at its boundary", async () => {
  const direct = await ort.InferenceSession.create(halfGraph());
  const x = Float32Array.of(1, -2.5, 0.1, 1e-6, 3.14159, 2000);
  // Fed as float32 directly, ORT refuses: the boundary casts are what make it run.
  await assert.rejects(direct.run({ x: new ort.Tensor("float32", x, [x.length]) }), /type|float16/i);
  await direct.release();

  const session = await ModelSession.open(halfGraph());
  // Callers see the graph as its file declares it: the casts' own names and types stay inside.
  assert.deepEqual([session.inputNames, session.outputNames], [["x"], ["y", "z"]]);
  assert.deepEqual(session.inputMetadata.map((m) => m.isTensor && m.type), ["float16"]);
  assert.deepEqual(session.outputMetadata.map((m) => m.isTensor && m.type), ["float16", "float32"]);
  const out = await session.run({ x: new ort.Tensor("float32", x, [x.length]) });
  assert.deepEqual([out.y!.type, out.z!.type], ["float32", "float32"]);
  closeInHalf(out.z!.data as Float32Array, Array.from(x), "z = x");
  closeInHalf(out.y!.data as Float32Array, Array.from(x, (v) => 3 * v), "y = 3x");
  await session.release();
});

test("float32 graphs and non-float inputs pass through unchanged", async () => {
  const g = new GraphBuilder("f32");
  const x = g.input("x", DataType.FLOAT, [2]);
  g.input("ids", DataType.INT64, [2]);
  g.output(g.op("Mul", [x, g.scalar(2)]), "y", DataType.FLOAT, [2]);
  const session = await ModelSession.open(g.build());
  const feed = new ort.Tensor("float32", Float32Array.of(0.1, 0.2), [2]);
  const out = await session.run({ x: feed, ids: new ort.Tensor("int64", BigInt64Array.of(1n, 2n), [2]) });
  assert.deepEqual(Array.from(out.y!.data as Float32Array), [Math.fround(0.2), Math.fround(0.4)]);
  assert.deepEqual(Array.from(feed.data as Float32Array), [Math.fround(0.1), Math.fround(0.2)], "the caller keeps its feed");
  await session.release();
});

test("a held input is fed on every run until released; one the graph lacks is refused", async () => {
  const session = await ModelSession.open(halfGraph());
  await assert.rejects(session.hold("nope", new ort.Tensor("float32", Float32Array.of(1), [1])), /the graph has no input nope \(its inputs: x\)/);
  const held = await session.hold("x", new ort.Tensor("float32", Float32Array.of(1, 2), [2]));
  for (let i = 0; i < 2; i++) assert.deepEqual(Array.from((await session.run({ x: held })).y!.data as Float32Array), [3, 6]);
  await held.release();
  await assert.rejects(session.run({ x: held }), /held tensor \d+ is not held for this session/);
  await session.release();
  await assert.rejects(session.run({ x: new ort.Tensor("float32", Float32Array.of(1), [1]) }), /is not open on the session thread/);
});

test("a lent input moves to the thread and back, never copied, also when the run fails", async () => {
  const session = await ModelSession.open(halfGraph());
  const lent = new LentTensor(Float32Array.of(1, 2, 0), [3]);
  const running = session.run({ x: lent });
  assert.equal(lent.data.length, 0, "while the run lasts the caller has no view of it: it was moved, not copied");
  assert.deepEqual(Array.from((await running).y!.data as Float32Array), [3, 6, 0]);
  assert.deepEqual(Array.from(lent.data), [1, 2, 0], "back after the run, unchanged");
  lent.data[2] = 4;
  assert.deepEqual(Array.from((await session.run({ x: lent })).y!.data as Float32Array), [3, 6, 12], "a write between runs is what the next one sees");
  const wrong = new LentTensor(Float32Array.of(1, 2), [2, 1]);
  await assert.rejects(session.run({ x: wrong }), /rank|dimension|shape/i);
  assert.deepEqual(Array.from(wrong.data), [1, 2], "a failed run gives the buffer back too");
  await session.release();
});

test("outputs written into lent buffers, float16 ones through their boundary cast; the rest returned", async () => {
  const session = await ModelSession.open(halfGraph());
  const y = new LentTensor(new Float32Array(3).fill(-1), [3]);
  const z = new LentTensor(new Float32Array(3).fill(-1), [3]);
  const running = session.run({ x: new ort.Tensor("float32", Float32Array.of(1, 2, 0.5), [3]) }, { y, z });
  assert.equal(y.data.length + z.data.length, 0, "both buffers are on the thread while it runs");
  const out = await running;
  assert.deepEqual(Object.keys(out), [], "outputs written into the caller's buffers are not returned again");
  assert.deepEqual(Array.from(y.data), [3, 6, 1.5], "the float16 output y, in y's buffer as float32");
  assert.deepEqual(Array.from(z.data), [1, 2, 0.5], "the float32 output z, written by ONNX Runtime in place");
  // Only some outputs lent: the others come back as new tensors.
  const partly = await session.run({ x: new ort.Tensor("float32", Float32Array.of(2, 2, 2), [3]) }, { z });
  assert.deepEqual(Object.keys(partly), ["y"]);
  assert.deepEqual(Array.from(z.data), [2, 2, 2]);
  await session.release();
});

test("a buffer for an output the graph lacks, of the wrong size or not float is refused and given back", async () => {
  const session = await ModelSession.open(halfGraph());
  const feed = () => ({ x: new ort.Tensor("float32", Float32Array.of(1, 2, 3), [3]) });
  const nope = new LentTensor(new Float32Array(3), [3]);
  await assert.rejects(session.run(feed(), { nope }), /the graph has no output nope \(its outputs: y, z\)/);
  assert.equal(nope.data.length, 3, "given back after the refusal");
  const short = new LentTensor(new Float32Array(2), [2]);
  await assert.rejects(session.run(feed(), { y: short }), /has shape \{2\} but the computed output shape for this run is \{3\}/);
  assert.equal(short.data.length, 2);
  const shortZ = new LentTensor(new Float32Array(2), [2]);
  await assert.rejects(session.run(feed(), { z: shortZ }), /shape|dimension|size/i);
  assert.equal(shortZ.data.length, 2);
  await session.release();

  const g = new GraphBuilder("int_out");
  g.output(g.op("Shape", [g.input("x", DataType.FLOAT, ["n"])]), "n", DataType.INT64, [1]);
  const ints = await ModelSession.open(g.build());
  const n = new LentTensor(new Float32Array(1), [1]);
  const runsBefore = ints.runtimeMs;
  await assert.rejects(ints.run(feed(), { n }), /output n is int64: it cannot be written into a float32 buffer/);
  assert.equal(ints.runtimeMs, runsBefore, "refused before the graph ran");
  assert.equal(n.data.length, 1);
  await ints.release();
});

/** y = x @ W repeated `depth` times over [n, n]: a forward slow enough to watch the event loop during it. */
function slowGraph(n: number, depth: number): Uint8Array {
  const g = new GraphBuilder("slow");
  let x = g.input("x", DataType.FLOAT, [n, n]);
  for (let i = 0; i < depth; i++) x = g.op("Tanh", [g.op("MatMul", [x, x])]);
  g.output(x, "y", DataType.FLOAT, [n, n]);
  return g.build();
}

test("the event loop keeps turning while a forward runs, and the model's run time is measured on its thread", async () => {
  const n = 512;
  const session = await ModelSession.open(slowGraph(n, 24), { intraOpNumThreads: 1 });
  const feed = new ort.Tensor("float32", new Float32Array(n * n).fill(0.01), [n, n]);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const started = performance.now();
  await session.run({ x: feed });
  const wall = performance.now() - started;
  clearInterval(timer);
  // On the main thread a run blocks the loop: not one timer would fire before it returned.
  assert.ok(ticks >= 3, `${ticks} timer ticks during a ${wall.toFixed(0)} ms forward`);
  assert.ok(session.runtimeMs > 0 && session.runtimeMs <= wall, `run ${session.runtimeMs} ms within the call's ${wall} ms`);
  await session.release();
});

test("an ONNX Runtime error reaches the caller with its message; the thread serves on", async () => {
  await assert.rejects(ModelSession.open(Uint8Array.of(1, 2, 3)), /cannot parse the model/i);
  const session = await ModelSession.open(halfGraph());
  await assert.rejects(session.run({ nope: new ort.Tensor("float32", Float32Array.of(1), [1]) }), /nope|input/i);
  assert.deepEqual(Array.from((await session.run({ x: new ort.Tensor("float32", Float32Array.of(2), [1]) })).z!.data as Float32Array), [2]);
  await session.release();
});

test("a bfloat16 graph, which onnxruntime-node cannot load, runs through its boundary casts", async () => {
  const g = new GraphBuilder("bf16");
  const x = g.input("x", DataType.BFLOAT16, [3]);
  const twice = g.op("Cast", [g.op("Mul", [g.op("Cast", [x], { to: { int: DataType.FLOAT } }), g.scalar(2)])], { to: { int: DataType.BFLOAT16 } });
  g.output(twice, "y", DataType.BFLOAT16, [3]);
  await assert.rejects(ort.InferenceSession.create(g.build()), /Unsupported data type: 16/);
  const session = await ModelSession.open(g.build());
  assert.deepEqual(session.inputMetadata.map((m) => m.isTensor && (m.type as string)), ["bfloat16"]);
  const y = (await session.run({ x: new ort.Tensor("float32", Float32Array.of(1.5, -3, 0.1), [3]) })).y!;
  assert.equal(y.type, "float32");
  // bfloat16 keeps 8 significant bits: 1.5 and -3 exactly, 0.1 within 2^-8 relative.
  const v = y.data as Float32Array;
  assert.deepEqual([v[0], v[1]], [3, -6]);
  assert.ok(Math.abs(v[2]! - 0.2) <= 0.2 * 2 ** -8, `2 x 0.1 in bfloat16: ${v[2]}`);
  await session.release();
});

test("a thread batch is fed and written in place; a wrong size, an output the graph lacks or a closed batch is refused", async () => {
  // v = 2 x on a batch of 2 items of 8 floats: a UniPC step with pSample 1 and pNew 0 leaves x as it was,
  // and the model output (x0 = x - sigma v, guidance 0) is what a preview frame shows.
  const g = new GraphBuilder("twice");
  g.output(g.op("Mul", [g.input("x", DataType.FLOAT, [2, 8]), g.scalar(2)]), "v", DataType.FLOAT, [2, 8]);
  g.output(g.op("Shape", ["x"]), "n", DataType.INT64, [2]);
  const session = await ModelSession.open(g.build());
  const initial = Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? i : -1));
  const spec = { size: 8, historySlots: 2, batch: 2 as const, item: 8, initial, inputDims: [2, 8], outputDims: [2, 8] };
  await assert.rejects(session.openBatch({ ...spec, initial: new Float32Array(4) }), /a batch of 16 values cannot start from 4/);
  const batch = await session.openBatch(spec);
  const step = { sigma: 0.5, guidance: 0, cSample: 1, cLast: 0, cNew: 0, cM0: 0, c1: 0, c2: 0, pSample: 1, pNew: 0, p0: 0, p1: 0 };
  const frame = await session.runOnBatch(batch, {}, { input: "x", output: "v", step, frame: { channels: 2, frames: 2, pixels: 2 } });
  // x0 = x - 0.5 * 2x = 0 everywhere: the frame of the middle latent frame (frame 0 of 2), channels 0 and 1.
  assert.deepEqual(Array.from(frame!), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(await batch.read()), [0, 1, 2, 3, 4, 5, 6, 7], "the latent, stepped in place");
  await assert.rejects(session.runOnBatch(batch, {}, { input: "x", output: "n", step }), /the graph has no float32 output n to write into the batch/);
  await assert.rejects(session.runOnBatch(batch, {}, { input: "nope", output: "v", step }), /the graph has no input nope/);
  await batch.close();
  await assert.rejects(session.runOnBatch(batch, {}, { input: "x", output: "v", step }), /batch \d+ is not open on the session thread/);
  await session.release();
});
