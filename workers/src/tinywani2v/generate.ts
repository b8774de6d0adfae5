import { MANIFEST_FILE, ManifestSchema, WAN_IMAGE_PROCESSOR_CONFIG, type Manifest } from "@videosdgx/shared";
import { isGeneratedFolderCurrent, writeGeneratedFolder } from "../builtin/write-folder.js";
import { TINYWAN_MODEL_INDEX, json, tinyWanFiles, tinyWanManifest } from "../tinywan/generate.js";
import { CHANNELS, TEXT_DIM } from "../tinywan/spec.js";
import { i2vTransformerGraph, imageEncoderGraph, vaeEncoderGraph } from "./graphs.js";
import { CLIP_PATCH, CLIP_SIZE, IMAGE_DIM, MASK_CHANNELS, TINYWANI2V_GENERATOR_VERSION, TINYWANI2V_NAME } from "./spec.js";

/** tinywan's rules, with image to video. */
export function tinyWanI2vManifest(name = TINYWANI2V_NAME): Manifest {
  const base = tinyWanManifest(name);
  return ManifestSchema.parse({
    ...base,
    display_name: "Tiny Wan 2.1 image-to-video replica (built in, analytic)",
    capabilities: { ...base.capabilities, i2v: true },
  });
}

/** CLIPImageProcessor's preprocessor_config.json as Wan-AI/Wan2.1-I2V-14B-480P-Diffusers ships it. */
export const TINYWANI2V_IMAGE_PROCESSOR_CONFIG = {
  crop_size: { height: CLIP_SIZE, width: CLIP_SIZE },
  do_center_crop: true,
  do_convert_rgb: true,
  do_normalize: true,
  do_rescale: true,
  do_resize: true,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_processor_type: "CLIPImageProcessor",
  image_std: [0.26862954, 0.26130258, 0.27577711],
  resample: 3,
  rescale_factor: 0.00392156862745098,
  size: { shortest_edge: CLIP_SIZE },
};

/** Writes tinywani2v in the Wan I2V folder layout, atomically. */
export async function generateTinyWanI2vModel(outDir: string, options: { name?: string } = {}): Promise<void> {
  const manifest = tinyWanI2vManifest(options.name);
  const files = {
    ...tinyWanFiles(manifest),
    "model_index.json": json({
      ...TINYWAN_MODEL_INDEX,
      _class_name: "WanImageToVideoPipeline",
      image_encoder: ["onnxruntime", "ORTModel"],
      image_processor: ["transformers", "CLIPImageProcessor"],
      vae_encoder: ["onnxruntime", "ORTModel"],
    }),
    "transformer/model.onnx": i2vTransformerGraph(),
    "transformer/config.json": json({
      _class_name: "WanTransformer3DModel", in_channels: CHANNELS + MASK_CHANNELS + CHANNELS, out_channels: CHANNELS,
      patch_size: [1, 2, 2], text_dim: TEXT_DIM, image_dim: IMAGE_DIM,
    }),
    "image_encoder/model.onnx": imageEncoderGraph(),
    "image_encoder/config.json": json({ _class_name: "CLIPVisionModel", hidden_size: IMAGE_DIM, image_size: CLIP_SIZE, patch_size: CLIP_PATCH }),
    "vae_encoder/model.onnx": vaeEncoderGraph(),
    [WAN_IMAGE_PROCESSOR_CONFIG]: json(TINYWANI2V_IMAGE_PROCESSOR_CONFIG),
    [MANIFEST_FILE]: json(manifest),
  };
  await writeGeneratedFolder(outDir, files, TINYWANI2V_GENERATOR_VERSION);
}

export const isTinyWanI2vModelCurrent = (outDir: string): Promise<boolean> => isGeneratedFolderCurrent(outDir, TINYWANI2V_GENERATOR_VERSION);
