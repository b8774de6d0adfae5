import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  KNOWN_MODELS,
  MANIFEST_FILE,
  inspectModel,
  listModelNames,
  modelSource,
  readSourceRecord,
  type SourceRecord,
} from "@videosdgx/shared";
import { checkpointDir, diskUsage, exists } from "./folder.js";

export interface ModelRow {
  name: string;
  display_name: string | null;
  family: string | null;
  installed: boolean;
  /** Why not installed, with what to do; null when installed. */
  reason: string | null;
  dir: string;
  size_bytes: number;
  source: { kind: "hub" | "exported" | "generated" | "unknown"; repos: SourceRecord["repos"]; from?: string };
  /** A pulled checkpoint waiting for `models export`. */
  checkpoint: { dir: string; size_bytes: number; repos: SourceRecord["repos"] } | null;
}

/** The family a folder's manifest names (the families' field), else the catalog's; today's manifests have none: generic. */
async function familyOf(dir: string, name: string): Promise<string | null> {
  const raw = await readFile(path.join(dir, MANIFEST_FILE), "utf8").then((t) => JSON.parse(t) as { family?: unknown }, () => undefined);
  if (typeof raw?.family === "string") return raw.family;
  const known = modelSource(name);
  return known ? known.family : raw ? "generic" : null;
}

async function sourceOf(dir: string, name: string): Promise<ModelRow["source"]> {
  const record = await readSourceRecord(dir);
  if (record && !(record instanceof Error)) return { kind: record.kind, repos: record.repos, ...(record.from ? { from: record.from } : {}) };
  if (modelSource(name)?.kind === "generated" && (await exists(dir))) return { kind: "generated", repos: [] };
  return { kind: "unknown", repos: [] };
}

async function checkpointOf(modelsDir: string, name: string): Promise<ModelRow["checkpoint"]> {
  const dir = checkpointDir(modelsDir, name);
  if (!(await exists(dir))) return null;
  const record = await readSourceRecord(dir);
  return { dir, size_bytes: await diskUsage(dir), repos: record && !(record instanceof Error) ? record.repos : [] };
}

/** `models list`: every known model and every folder with a manifest, installed or not and why. */
export async function listModels(modelsDir: string): Promise<ModelRow[]> {
  const rows: ModelRow[] = [];
  for (const name of await listModelNames(modelsDir)) {
    const state = await inspectModel(modelsDir, name);
    const checkpoint = await checkpointOf(modelsDir, name);
    const reason = state.installed
      ? null
      : checkpoint && !(await exists(state.dir))
        ? `${state.reason}; its checkpoint is pulled (${checkpoint.dir}): export it to ONNX into ${state.dir}`
        : state.reason;
    rows.push({
      name,
      display_name: state.manifest?.display_name ?? KNOWN_MODELS.get(name)?.display_name ?? null,
      family: await familyOf(state.dir, name),
      installed: state.installed,
      reason,
      dir: state.dir,
      size_bytes: await diskUsage(state.dir),
      source: await sourceOf(state.dir, name),
      checkpoint,
    });
  }
  return rows;
}
