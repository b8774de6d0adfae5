import path from "node:path";
import { BUILTIN_MODEL_NAMES, type BuiltinModelName } from "@videosdgx/shared";
import { generateTinyModel, isTinyModelCurrent } from "../tiny/generate.js";
import { generateTinyLtx2Model, isTinyLtx2ModelCurrent } from "../tinyltx2/generate.js";
import { generateTinyMagiModel, isTinyMagiModelCurrent } from "../tinymagi/generate.js";
import { generateTinyWanModel, isTinyWanModelCurrent } from "../tinywan/generate.js";
import { generateTinyWanI2vModel, isTinyWanI2vModelCurrent } from "../tinywani2v/generate.js";

/**
 * The generator of each built-in model (shared's BUILTIN_MODEL_NAMES: the type makes both lists one).
 * `isCurrent` holds only for a sound, unaltered folder of the generator's version (isGeneratedFolderCurrent).
 */
const GENERATORS: Record<BuiltinModelName, { isCurrent: (dir: string) => Promise<boolean>; generate: (dir: string) => Promise<void> }> = {
  tiny: { isCurrent: isTinyModelCurrent, generate: (dir) => generateTinyModel(dir) },
  tinywan: { isCurrent: isTinyWanModelCurrent, generate: (dir) => generateTinyWanModel(dir) },
  tinywani2v: { isCurrent: isTinyWanI2vModelCurrent, generate: (dir) => generateTinyWanI2vModel(dir) },
  tinyltx2: { isCurrent: isTinyLtx2ModelCurrent, generate: (dir) => generateTinyLtx2Model(dir) },
  tinymagi: { isCurrent: isTinyMagiModelCurrent, generate: (dir) => generateTinyMagiModel(dir) },
};

/** Generates every built-in model that is missing, outdated or damaged under `modelsDir`; `onGenerate` hears which. */
export async function ensureBuiltinModels(modelsDir: string, onGenerate: (name: string, dir: string) => void = () => {}): Promise<void> {
  for (const name of BUILTIN_MODEL_NAMES) {
    const dir = path.join(modelsDir, name);
    if (await GENERATORS[name].isCurrent(dir)) continue;
    onGenerate(name, dir);
    await GENERATORS[name].generate(dir);
  }
}
