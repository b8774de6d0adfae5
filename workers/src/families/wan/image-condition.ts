import ort from "onnxruntime-node";
import type { ClipPreprocessing } from "@videosdgx/shared";
import { coverFit, decodeImageRgb, shortestEdgeFit } from "../../pipeline/image-decode.js";
import type { LatentStats } from "../../pipeline/latent-normalisation.js";
import type { LatentShape } from "../../pipeline/latent-shape.js";
import type { ModelSession } from "../../onnx/session-thread.js";

/** The folder's graphs and configs that turn an image into Wan I2V's conditioning. */
export interface WanImageEncoders {
  imageEncoder: ModelSession;
  vaeEncoder: ModelSession;
  clip: ClipPreprocessing;
  stats: LatentStats;
  temporalFactor: number;
}

export interface WanImageCondition {
  /** [4 mask + 16 latent, F_lat, H/8, W/8]: fed after the noise latent's channels at every step. */
  condition: Float32Array;
  /** The image encoder's states [1, T, D]. */
  imageEmbeds: ort.Tensor;
}

const describe = (t: ort.Tensor | undefined) => `${t?.type ?? "missing"} [${t?.dims.join(", ") ?? ""}]`;

/** CLIPImageProcessor's rescale and normalise, channels first: [1, 3, h, w]. */
function clipPixels(rgb: Uint8Array, clip: ClipPreprocessing): ort.Tensor {
  const plane = clip.cropWidth * clip.cropHeight;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const [mean, std] = [clip.mean[c]!, clip.std[c]!];
    for (let i = 0; i < plane; i++) out[c * plane + i] = (rgb[i * 3 + c]! * clip.rescaleFactor - mean) / std;
  }
  return new ort.Tensor("float32", out, [1, 3, clip.cropHeight, clip.cropWidth]);
}

/** The video the VAE encodes: the image in [-1, 1] as frame 0 (VaeImageProcessor's 2x - 1), zeros after. */
function conditionVideo(rgb: Uint8Array, frames: number, width: number, height: number): ort.Tensor {
  const plane = width * height;
  const video = new Float32Array(3 * frames * plane);
  for (let c = 0; c < 3; c++) {
    const base = c * frames * plane;
    for (let i = 0; i < plane; i++) video[base + i] = (rgb[i * 3 + c]! / 255) * 2 - 1;
  }
  return new ort.Tensor("float32", video, [1, 3, frames, height, width]);
}

/**
 * Wan 2.1 I2V's conditioning, as diffusers' WanImageToVideoPipeline prepares it: CLIP's states of the
 * image (`encode_image`), and `prepare_latents`' condition: the VAE's mode of [image, zeros...] normalised
 * `(z - latents_mean) * (1 / latents_std)`, after a mask that is 1 on the first frame and 0 after, repeated
 * over the first frame's 4 slots so it packs into 4 channels per latent frame (so latent frame 0 has four
 * ones, every other four zeros).
 */
export async function wanImageCondition(
  enc: WanImageEncoders,
  image: Buffer,
  size: { frames: number; width: number; height: number },
  shape: LatentShape,
  signal?: AbortSignal,
): Promise<WanImageCondition> {
  const [frame, clipRgb] = await Promise.all([
    decodeImageRgb(image, coverFit(size.width, size.height), signal),
    decodeImageRgb(image, shortestEdgeFit(enc.clip.shortestEdge, enc.clip.cropWidth, enc.clip.cropHeight), signal),
  ]);
  const embeds = (await enc.imageEncoder.run({ pixel_values: clipPixels(clipRgb, enc.clip) })).image_embeds;
  if (!embeds || embeds.type !== "float32" || embeds.dims.length !== 3 || embeds.dims[0] !== 1) {
    throw new Error(`image encoder output image_embeds is ${describe(embeds)}, expected float [1, T, D]`);
  }
  const latent = (await enc.vaeEncoder.run({ sample: conditionVideo(frame, size.frames, size.width, size.height) })).latent_sample;
  const want = [1, shape.channels, shape.frames, shape.height, shape.width];
  if (!latent || latent.type !== "float32" || latent.dims.join("x") !== want.join("x")) {
    throw new Error(`VAE encoder output latent_sample is ${describe(latent)}, expected float [${want.join(", ")}]`);
  }
  const plane = shape.frames * shape.height * shape.width;
  const cell = shape.height * shape.width;
  const maskChannels = enc.temporalFactor;
  const condition = new Float32Array((maskChannels + shape.channels) * plane);
  // Latent frame 0 of every mask channel is 1 (the first frame, repeated over the temporal packing).
  for (let k = 0; k < maskChannels; k++) condition.fill(1, k * plane, k * plane + cell);
  const z = latent.data as Float32Array;
  for (let c = 0; c < shape.channels; c++) {
    const [mean, inverse] = [enc.stats.mean[c]!, Math.fround(1 / enc.stats.std[c]!)];
    const out = (maskChannels + c) * plane;
    for (let i = 0; i < plane; i++) condition[out + i] = Math.fround(z[c * plane + i]! - mean) * inverse;
  }
  return { condition, imageEmbeds: embeds };
}
