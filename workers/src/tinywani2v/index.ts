export { generateTinyWanI2vModel, isTinyWanI2vModelCurrent, tinyWanI2vManifest } from "./generate.js";
export { tinyWanI2vFirstFrame } from "./reference.js";
export { TINYWANI2V_GENERATOR_VERSION, TINYWANI2V_NAME } from "./spec.js";
