export * from "./contract.js";
export * from "./generic.js";
export * from "./wan.js";
export * from "./ltx2.js";
export * from "./magi.js";
export * from "./registry.js";
