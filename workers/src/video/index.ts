export { encodeMp4, x264Args, VideoEncodeError } from "./mp4-encoder.js";
export { decodeToRgb, probeVideo } from "./probe.js";
