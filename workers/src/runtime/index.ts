// What tools outside the worker process (the `videosdgx` CLI: verify --run, doctor) run of the worker's own code.
export { loadModel, type LoadedModel } from "./loaded-model.js";
export { sessionOptions } from "./session-options.js";
export { findFfmpeg } from "./environment-check.js";
export { generateVideo, type GeneratedVideo, type VideoSettings } from "../pipeline/generate-video.js";
