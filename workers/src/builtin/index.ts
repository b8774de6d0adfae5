import path from "node:path";
import { generateTinyModel, isTinyModelCurrent } from "../tiny/generate.js";
import { generateTinyMagiModel, isTinyMagiModelCurrent } from "../tinymagi/generate.js";
import { generateTinyWanModel, isTinyWanModelCurrent } from "../tinywan/generate.js";

/** The models the project generates itself (no download), each checked by its generator's version. */
const BUILTIN_MODELS = [
  { name: "tiny", isCurrent: isTinyModelCurrent, generate: (dir: string) => generateTinyModel(dir) },
  { name: "tinywan", isCurrent: isTinyWanModelCurrent, generate: (dir: string) => generateTinyWanModel(dir) },
  { name: "tinymagi", isCurrent: isTinyMagiModelCurrent, generate: (dir: string) => generateTinyMagiModel(dir) },
];

/** Generates every built-in model that is missing or outdated under `modelsDir`; `onGenerate` hears which. */
export async function ensureBuiltinModels(modelsDir: string, onGenerate: (name: string, dir: string) => void = () => {}): Promise<void> {
  for (const model of BUILTIN_MODELS) {
    const dir = path.join(modelsDir, model.name);
    if (await model.isCurrent(dir)) continue;
    onGenerate(model.name, dir);
    await model.generate(dir);
  }
}
