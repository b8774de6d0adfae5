export { Previewer, previewsState, type PreviewSettings } from "./previewer.js";
export { createLatentProjection, type LatentProjection } from "./projection-graph.js";
export { frameX0, previewFrameOf, previewLatentFrame, type FrameTerm } from "../kernels/frame-x0.js";
export type { PreviewSink } from "./preview-sink.js";
