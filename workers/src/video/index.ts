export { encodeMp4, ffmpegCliArgs, x264Args, VideoEncodeError } from "./mp4-encoder.js";
export { decodeToRgb, probeVideo } from "./probe.js";
