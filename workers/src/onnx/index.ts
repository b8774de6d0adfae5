export { DataType, GraphBuilder } from "./graph-builder.js";
export { HeldTensor, LentTensor, ModelSession, type SessionFeeds } from "./session-thread.js";
