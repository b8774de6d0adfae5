import ort from "onnxruntime-node";
import { latentDims, type LatentShape } from "./latent-shape.js";
import type { ModelSession } from "../onnx/session-thread.js";

export interface FrameSize {
  frames: number;
  width: number;
  height: number;
}

async function runDecoder(
  vaeDecoder: ModelSession,
  latent: Float32Array,
  shape: LatentShape,
  extra: Record<string, ort.Tensor> = {},
): Promise<ort.Tensor | undefined> {
  const out = await vaeDecoder.run({ ...extra, latent_sample: new ort.Tensor("float32", latent, latentDims(shape, 1)) });
  return out.sample;
}

const describe = (t: ort.Tensor | undefined) => `${t?.type ?? "missing"} [${t?.dims.join(", ") ?? ""}]`;

/**
 * Runs a decoder that ends in uint8 RGB frames laid out [frames, height, width, 3] (the generic family's):
 * a quarter of the bytes of float32 cross the binding, and ffmpeg takes them as rawvideo with no JS loop.
 */
export async function decodeToRgb(vaeDecoder: ModelSession, latent: Float32Array, shape: LatentShape, size: FrameSize): Promise<Uint8Array> {
  const frames = await runDecoder(vaeDecoder, latent, shape);
  const want = [size.frames, size.height, size.width, 3];
  if (!frames || frames.type !== "uint8" || frames.dims.join("x") !== want.join("x")) {
    throw new Error(`VAE decoder output sample is ${describe(frames)}, expected uint8 [${want.join(", ")}]`);
  }
  return frames.data as Uint8Array;
}

/**
 * Runs a diffusers VAE decoder: float frames in [-1, 1] shaped [1, 3, F, H, W] (float16 ones converted).
 * `extra` feeds the decoder's other inputs (LTX-2's decode `timestep`).
 */
export async function decodeToVideo(
  vaeDecoder: ModelSession,
  latent: Float32Array,
  shape: LatentShape,
  size: FrameSize,
  extra: Record<string, ort.Tensor> = {},
): Promise<Float32Array> {
  const video = await runDecoder(vaeDecoder, latent, shape, extra);
  const want = [1, 3, size.frames, size.height, size.width];
  if (!video || video.type !== "float32" || video.dims.join("x") !== want.join("x")) {
    throw new Error(`VAE decoder output sample is ${describe(video)}, expected float [${want.join(", ")}]`);
  }
  return video.data as Float32Array;
}
