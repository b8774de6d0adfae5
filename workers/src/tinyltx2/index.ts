export { generateTinyLtx2Model, isTinyLtx2ModelCurrent, tinyLtx2AudioVaeConfig, tinyLtx2Manifest, tinyLtx2VaeConfig, type TinyLtx2Options } from "./generate.js";
export { tinyLtx2Conditioning, tinyLtx2TargetFrames, tinyLtx2ToneHz, type Ltx2Scales, type TinyLtx2Target } from "./reference.js";
export { OUTPUT_SAMPLE_RATE, TINYLTX2_GENERATOR_VERSION, TINYLTX2_NAME } from "./spec.js";
