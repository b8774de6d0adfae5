export { generateTinyModel, isTinyModelCurrent, type TinyModelOptions } from "./generate.js";
export type { BallastWeights } from "./graphs.js";
export { tinyConditioning, tinyTargetFrames } from "./reference.js";
export { TINY_GENERATOR_VERSION } from "./spec.js";
