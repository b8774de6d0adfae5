export { loadModel, type LoadedModel } from "./loaded-model.js";
