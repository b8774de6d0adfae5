export { DataType, GraphBuilder } from "./graph-builder.js";
