import type ort from "onnxruntime-node";
import { contractFor, inspectModel, JobFailure, type Manifest } from "@videosdgx/shared";
import type { FamilyModule, FamilyPipeline } from "../families/family.js";
import { FAMILIES } from "../families/registry.js";
import { ModelFolder } from "./model-folder.js";

/** Everything one model needs at run time, loaded once and kept until unloaded. */
export interface LoadedModel {
  readonly name: string;
  readonly manifest: Manifest;
  readonly family: FamilyModule;
  readonly pipeline: FamilyPipeline;
  release(): Promise<void>;
}

/** Inspects the folder, then loads it with the family module its manifest names. */
export async function loadModel(
  modelsDir: string,
  name: string,
  options: ort.InferenceSession.SessionOptions,
): Promise<LoadedModel> {
  const state = await inspectModel(modelsDir, name);
  if (!state.installed) throw new JobFailure("model_missing", `model ${name} is not installed: ${state.reason}`, false);
  const { dir, manifest } = state;
  // Inspection refuses a family without a contract; a contract without a module here is a build mistake.
  const family = FAMILIES.get(manifest.family);
  if (!family) throw new JobFailure("model_invalid", `model ${name}: this worker has no module for family ${manifest.family}`, false);
  const folder = new ModelFolder(name, dir, manifest, contractFor(family.contract, manifest), options);
  try {
    const pipeline = await family.load(folder);
    return { name, manifest, family, pipeline, release: () => folder.release() };
  } catch (err) {
    await folder.release();
    throw err;
  }
}
