export { DataType, GraphBuilder } from "./graph-builder.js";
export { GraphBoundary } from "./graph-boundary.js";
export { float16ToFloat32, float32ToFloat16 } from "./float16.js";
