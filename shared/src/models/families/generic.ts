import { DIFFUSERS_FILES, FLOAT_TYPES, TEXT_ENCODER_CONTRACT, type FamilyContract } from "./contract.js";

/**
 * The platform's first pipeline, kept for `tiny`: Euler or UniPC from the scheduler config, guidance on
 * the velocity, no latent normalisation, and a decoder that ends in uint8 RGB frames [F, H, W, 3].
 */
export const genericContract: FamilyContract = {
  name: "generic",
  files: [...DIFFUSERS_FILES],
  graphs: {
    "text_encoder/model.onnx": TEXT_ENCODER_CONTRACT,
    "transformer/model.onnx": {
      inputs: [
        { name: "hidden_states", types: FLOAT_TYPES, rank: 5, shape: "[B, C, F_lat, H_lat, W_lat]" },
        { name: "timestep", types: FLOAT_TYPES, rank: 1, shape: "[B]" },
        { name: "encoder_hidden_states", types: FLOAT_TYPES, rank: 3, shape: "[B, L, D]" },
      ],
      outputs: [{ name: "out_hidden_states", types: FLOAT_TYPES, rank: 5, shape: "[B, C, F_lat, H_lat, W_lat]" }],
    },
    "vae_decoder/model.onnx": {
      inputs: [{ name: "latent_sample", types: FLOAT_TYPES, rank: 5, shape: "[1, C, F_lat, H_lat, W_lat]" }],
      outputs: [{ name: "sample", types: ["uint8"], rank: 4, shape: "[F, H, W, 3]" }],
    },
  },
  defaultNegativePrompt: "",
  checkFolder: async (manifest) =>
    manifest.sampling?.flow_shift_by_size ? "videosdgx.json sets sampling.flow_shift_by_size, which family generic does not use" : undefined,
};
