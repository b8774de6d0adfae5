import ort from "onnxruntime-node";
import { DataType, GraphBuilder } from "./graph-builder.js";

/**
 * float32 <-> float16 conversion by ONNX Runtime's own Cast kernel (vectorised, round to nearest even,
 * faster than a JavaScript loop over a Wan 480p latent's 4 M values). Like every onnxruntime-node session
 * it runs synchronously on the calling thread. Two one-node graphs, made once per process.
 */
type Direction = "float16" | "float32";

const sessions = new Map<Direction, Promise<ort.InferenceSession>>();

function castGraph(to: Direction): Uint8Array {
  const [fromType, toType] = to === "float16" ? [DataType.FLOAT, DataType.FLOAT16] : [DataType.FLOAT16, DataType.FLOAT];
  const g = new GraphBuilder(`cast_to_${to}`);
  const x = g.input("x", fromType, ["n"]);
  g.output(g.op("Cast", [x], { to: { int: toType } }), "y", toType, ["n"]);
  return g.build();
}

function castSession(to: Direction): Promise<ort.InferenceSession> {
  let session = sessions.get(to);
  if (!session) {
    // One thread: the cast is memory-bound and runs beside the model's own session.
    session = ort.InferenceSession.create(castGraph(to), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    sessions.set(to, session);
  }
  return session;
}

/** `tensor` (float32 or float16) as a tensor of type `to` with the same dims, written into `into` when given. */
export async function castTensor(tensor: ort.Tensor, to: Direction, into?: Float32Array | Uint16Array): Promise<ort.Tensor> {
  if (tensor.type === to && !into) return tensor;
  if (tensor.type === to || (tensor.type !== "float32" && tensor.type !== "float16")) throw new TypeError(`cannot cast a ${tensor.type} tensor to ${to}`);
  if (into && into.length !== tensor.size) throw new RangeError(`cannot cast ${tensor.size} values into a buffer of ${into.length}`);
  const flat = new ort.Tensor(tensor.type, tensor.data as Float32Array | Uint16Array, [tensor.size]);
  const session = await castSession(to);
  const { y } = into ? await session.run({ x: flat }, { y: new ort.Tensor(to, into, [tensor.size]) }) : await session.run({ x: flat });
  return new ort.Tensor(to, into ?? (y!.data as Float32Array | Uint16Array), tensor.dims);
}
