export * from "./contract.js";
export * from "./generic.js";
export * from "./wan.js";
export * from "./ltx2.js";
export * from "./registry.js";
