export * from "./processes.js";
export * from "./wait.js";
export * from "./random.js";
export * from "./unit-redis.js";
export * from "./images.js";
export * from "./sentinel-set.js";
export * from "./shared-export.js";
