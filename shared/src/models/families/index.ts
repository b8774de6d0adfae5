export * from "./contract.js";
export * from "./generic.js";
export * from "./wan.js";
export * from "./magi.js";
export * from "./registry.js";
