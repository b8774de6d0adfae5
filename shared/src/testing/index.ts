export * from "./processes.js";
export * from "./wait.js";
