export { audioCoords, videoCoords } from "./coords.js";
export { X0Guidance, type X0Passes, type X0Scales } from "./guidance.js";
export { jointDenoise, type JointDenoiseInput, type PromptStates } from "./joint-denoise.js";
export { ltx2Samplers, ltx2Scales } from "./ltx2-family.js";
