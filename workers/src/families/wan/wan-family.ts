import { JobFailure, parseClipPreprocessorConfig, parseWanVaeConfig, WAN_IMAGE_PROCESSOR_CONFIG, WAN_VAE_CONFIG, wanContract } from "@videosdgx/shared";
import ort from "onnxruntime-node";
import { decodeToVideo } from "../../pipeline/decode.js";
import { denoise, usesGuidance } from "../../pipeline/denoise.js";
import { schedulerForSize } from "../../pipeline/flow-shift.js";
import { denormaliseLatent } from "../../pipeline/latent-normalisation.js";
import { latentShape } from "../../pipeline/latent-shape.js";
import { encodeText, zeroBeyondLengths } from "../../pipeline/text-encoding.js";
import { tokenizeToContext } from "../../pipeline/tokenize.js";
import { videoToRgb } from "../../pipeline/video-frames.js";
import type { FamilyModule } from "../family.js";
import { wanImageCondition, type WanImageEncoders } from "./image-condition.js";
import { cleanPrompt } from "./prompt-clean.js";

/** The same states for each batch item (guidance's two passes see one image). */
function repeatBatch(t: ort.Tensor, batch: number): ort.Tensor {
  const data = t.data as Float32Array;
  const out = new Float32Array(data.length * batch);
  for (let b = 0; b < batch; b++) out.set(data, b * data.length);
  return new ort.Tensor("float32", out, [batch, ...t.dims.slice(1)]);
}

/**
 * Wan 2.1 text-to-video as diffusers' WanPipeline runs it: umT5 states with the attention mask, cut to
 * each prompt's length and zero-padded to max_sequence_length; guidance `uncond + g (cond - uncond)` on
 * the velocity (one batch of 2); the folder's UniPC with the manifest's flow_shift for the job's size;
 * per-channel denormalisation with the VAE config's latents_mean/std; the decoder's [-1, 1] video to
 * uint8 as diffusers' postprocess rounds it. With capabilities.i2v, WanImageToVideoPipeline: the job's image
 * through the image encoder and the VAE encoder (image-condition.ts) conditions every transformer pass.
 */
export const wanFamily: FamilyModule = {
  contract: wanContract,
  async load(folder) {
    const { manifest } = folder;
    const [tokenizer, scheduler] = [await folder.tokenizer(), await folder.scheduler()];
    const stats = await folder.config(WAN_VAE_CONFIG, (json) => parseWanVaeConfig(json, manifest.latent.channels));
    // A per-size flow_shift that cannot apply is a folder problem: refused at load, not at the job.
    folder.checked(() => {
      for (const size of Object.keys(manifest.sampling?.flow_shift_by_size ?? {})) {
        const [w, h] = size.split("x").map(Number) as [number, number];
        schedulerForSize(scheduler, manifest, w, h);
      }
    });
    const textEncoder = await folder.session("text_encoder");
    const transformer = await folder.session("transformer");
    const vaeDecoder = await folder.session("vae_decoder");
    const encoders: WanImageEncoders | undefined = manifest.capabilities.i2v
      ? {
          imageEncoder: await folder.session("image_encoder"),
          vaeEncoder: await folder.session("vae_encoder"),
          clip: await folder.config(WAN_IMAGE_PROCESSOR_CONFIG, parseClipPreprocessorConfig),
          stats,
          temporalFactor: manifest.latent.temporal_factor,
        }
      : undefined;
    return {
      async render(params, run, inputs = {}) {
        const shape = latentShape(manifest, params.num_frames, params.width, params.height);
        const size = { frames: params.num_frames, width: params.width, height: params.height };
        if (encoders && !inputs.image) throw new JobFailure("invalid_job_data", `model ${folder.name} makes video from an image, and the job has none`, false);
        const image = encoders && inputs.image
          ? await run.stage("encoding_image", "encode_image_ms", () => wanImageCondition(encoders, inputs.image!, size, shape))
          : undefined;
        const guided = usesGuidance(params.guidance);
        const prompts = (guided ? [params.negative_prompt, params.prompt] : [params.prompt]).map(cleanPrompt);
        const textStates = await run.stage("encoding_text", "encode_text_ms", async () => {
          const tokens = tokenizeToContext(tokenizer, prompts, manifest.text.max_tokens);
          return zeroBeyondLengths(await encodeText(textEncoder, tokens), tokens.lengths);
        });
        const { latent } = await run.stage("denoising", "denoise_ms", () =>
          denoise({
            transformer, textStates, shape, outputName: "out_sample",
            scheduler: schedulerForSize(scheduler, manifest, params.width, params.height),
            steps: params.steps, guidance: params.guidance, seed: params.seed, afterStep: run.step, preview: run.preview,
            ...(image && { condition: image.condition, extraInputs: { encoder_hidden_states_image: repeatBatch(image.imageEmbeds, guided ? 2 : 1) } }),
          }),
        );
        return run.stage("decoding", "decode_ms", async () =>
          videoToRgb(await decodeToVideo(vaeDecoder, denormaliseLatent(latent, shape, stats), shape, size), size),
        );
      },
    };
  },
};
