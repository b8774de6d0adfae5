export { generateTinyMagiModel, isTinyMagiModelCurrent, tinyMagiConfig, tinyMagiManifest } from "./generate.js";
export { tinyMagiConditioning, tinyMagiLatents, tinyMagiTargetFrames, type TinyMagiTarget } from "./reference.js";
export { TINYMAGI_GENERATOR_VERSION, TINYMAGI_NAME, TINYMAGI_RUNTIME_CONFIG } from "./spec.js";
