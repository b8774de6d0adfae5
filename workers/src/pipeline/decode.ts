import ort from "onnxruntime-node";
import { GraphBoundary } from "../onnx/graph-boundary.js";
import { latentDims, type LatentShape } from "./latent-shape.js";

/**
 * Runs the VAE decoder. Decoders we run end in uint8 RGB frames laid out [frames, height, width, 3]:
 * a quarter of the bytes of float32 cross the binding, and ffmpeg takes them as rawvideo with no JS loop.
 */
export async function decodeLatent(
  vaeDecoder: ort.InferenceSession,
  latent: Float32Array,
  shape: LatentShape,
  expected: { frames: number; width: number; height: number },
): Promise<Uint8Array> {
  const inputName = vaeDecoder.inputNames[0] ?? "latent_sample";
  const outputName = vaeDecoder.outputNames[0] ?? "sample";
  const out = await new GraphBoundary(vaeDecoder).run({ [inputName]: new ort.Tensor("float32", latent, latentDims(shape, 1)) });
  const frames = out[outputName];
  const want = [expected.frames, expected.height, expected.width, 3];
  if (!frames || frames.type !== "uint8" || frames.dims.join("x") !== want.join("x")) {
    throw new Error(
      `VAE decoder output ${outputName} is ${frames?.type ?? "missing"} [${frames?.dims.join(", ") ?? ""}], ` +
        `expected uint8 [${want.join(", ")}]`,
    );
  }
  return frames.data as Uint8Array;
}
