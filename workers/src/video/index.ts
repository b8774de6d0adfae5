export { aacArgs, encodeMp4, ffmpegCliArgs, x264Args, VideoEncodeError, type Waveform } from "./mp4-encoder.js";
export { decodeAudio, decodeToRgb, probeStreams, probeVideo, toneFrequency, type StreamInfo } from "./probe.js";
export { GrowingMp4, type GrowingVideoState } from "./fragmented-mp4.js";
export { closePreviewEncoder, PREVIEW_MAX_SIDE, previewSize } from "./preview-jpegs.js";
