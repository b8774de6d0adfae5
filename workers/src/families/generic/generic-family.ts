import { genericContract } from "@videosdgx/shared";
import { decodeToRgb } from "../../pipeline/decode.js";
import { denoise, usesGuidance } from "../../pipeline/denoise.js";
import { latentShape } from "../../pipeline/latent-shape.js";
import { encodeText } from "../../pipeline/text-encoding.js";
import { tokenizeToContext } from "../../pipeline/tokenize.js";
import type { FamilyModule } from "../family.js";

/**
 * The platform's first pipeline (the `tiny` model's): the encoder's states as they come, the folder's
 * scheduler, guidance on the velocity, and a decoder that ends in uint8 RGB frames itself.
 */
export const genericFamily: FamilyModule = {
  contract: genericContract,
  async load(folder) {
    const [tokenizer, scheduler] = [await folder.tokenizer(), await folder.scheduler()];
    const textEncoder = await folder.session("text_encoder");
    const transformer = await folder.session("transformer");
    const vaeDecoder = await folder.session("vae_decoder");
    const { manifest } = folder;
    return {
      async render(params, run) {
        const shape = latentShape(manifest, params.num_frames, params.width, params.height);
        const guided = usesGuidance(params.guidance);
        const prompts = guided ? [params.negative_prompt, params.prompt] : [params.prompt];
        const textStates = await run.stage("encoding_text", "encode_text_ms", () =>
          encodeText(textEncoder, tokenizeToContext(tokenizer, prompts, manifest.text.max_tokens)),
        );
        const { latent } = await run.stage("denoising", "denoise_ms", () =>
          denoise({
            transformer, scheduler, shape, textStates, outputName: "out_hidden_states",
            steps: params.steps, guidance: params.guidance, seed: params.seed, afterStep: run.step, preview: run.preview,
          }),
        );
        const size = { frames: params.num_frames, width: params.width, height: params.height };
        return run.stage("decoding", "decode_ms", () => decodeToRgb(vaeDecoder, latent, shape, size));
      },
    };
  },
};
