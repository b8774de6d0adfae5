export { aacArgs, encodeMp4, ffmpegCliArgs, x264Args, VideoEncodeError, type Waveform } from "./mp4-encoder.js";
export { decodeToRgb, probeVideo } from "./probe.js";
