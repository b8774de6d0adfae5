import { KNOWN_MODELS, ModelNameSchema, isListedModel } from "@videosdgx/shared";
import { usageError } from "../cli-error.js";

/** A name the command can act on: a known model, or a folder under MODELS_DIR with a manifest. */
export async function checkModelName(modelsDir: string, name: string): Promise<void> {
  const known = [...KNOWN_MODELS.keys()].join(", ");
  if (!ModelNameSchema.safeParse(name).success || !(await isListedModel(modelsDir, name))) {
    throw usageError(`unknown model "${name}": known models are ${known} (npm run models -- list shows every one and any installed folder)`);
  }
}
