import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { testEnv } from "./processes.js";

/** A tiny replica's checkpoint and its fp32 export, as exporter/tests/shared_exports.py names them. */
export type SharedExportRecipe = "wan" | "wan-i2v" | "ltx2";

export interface SharedExport {
  /** The replica checkpoint (diffusers' layout) the folder was exported from. */
  checkpoint: string;
  /** MODELS_DIR holding the one exported folder, `name`. */
  modelsDir: string;
  name: string;
  dir: string;
}

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../exporter/scripts/shared-export.sh");

/**
 * The export that pytest and the other Node tests of this `npm test` share: made by the real exporter the
 * first time any of them asks (minutes for LTX-2), found afterwards (exporter/tests/shared_exports.py).
 * Read it, never change it: copy it to change it.
 */
export async function sharedExport(recipe: SharedExportRecipe): Promise<SharedExport> {
  const env = testEnv(process.env.VDGX_PYTHON ? { VDGX_PYTHON: process.env.VDGX_PYTHON } : {});
  const { stdout } = await promisify(execFile)("bash", [script, recipe], { env, maxBuffer: 16 << 20 });
  // The last line: a library may print to stdout while the export is made.
  const printed = JSON.parse(stdout.trim().split("\n").at(-1)!) as { checkpoint: string; models_dir: string; name: string; dir: string };
  return { checkpoint: printed.checkpoint, modelsDir: printed.models_dir, name: printed.name, dir: printed.dir };
}
