export * from "./processes.js";
export * from "./wait.js";
export * from "./random.js";
export * from "./unit-redis.js";
