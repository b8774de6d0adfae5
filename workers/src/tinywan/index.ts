export { TINYWAN_SCHEDULER_CONFIG, generateTinyWanModel, isTinyWanModelCurrent, tinyWanManifest, tinyWanVaeConfig, type TinyWanOptions } from "./generate.js";
export { tinyWanConditioning, tinyWanTargetFrames, type TinyWanTarget } from "./reference.js";
export { LATENTS_MEAN, LATENTS_STD, TINYWAN_GENERATOR_VERSION, TINYWAN_NAME } from "./spec.js";
