export { denoise, usesGuidance, type DenoiseInput, type DenoiseResult } from "./denoise.js";
export { parseSchedulerConfig, type SchedulerConfig } from "./scheduler-config.js";
export { createSampler, type Sampler, type SamplerRun, type Velocity } from "./sampler.js";
export type { LatentShape } from "./latent-shape.js";
