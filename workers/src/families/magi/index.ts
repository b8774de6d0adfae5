export { decodeMagiChunk } from "./vae-tiles.js";
