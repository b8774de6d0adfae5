export { encodeMp4, ffmpegCliArgs, x264Args, VideoEncodeError } from "./mp4-encoder.js";
export { decodeToRgb, probeVideo } from "./probe.js";
export { GrowingMp4, type GrowingVideoState } from "./fragmented-mp4.js";
