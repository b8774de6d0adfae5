import { open, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { KNOWN_MODELS, WEIGHTS_NOT_PUBLIC_REASON } from "./catalog.js";
import { MANIFEST_FILE, ManifestSchema, REQUIRED_MODEL_FILES, type Manifest } from "./manifest.js";
import { GRAPH_INTERFACES, onnxStructureProblem } from "./onnx-structure.js";

export type InstallState =
  | { installed: true; dir: string; manifest: Manifest }
  | { installed: false; dir: string; reason: string; manifest?: Manifest };

const exists = (p: string) => stat(p).then(() => true, () => false);

/** An ONNX ModelProto starts with field 1 (ir_version, varint): byte 0x08. Catches HTML error pages and LFS stubs. */
async function looksLikeOnnx(file: string): Promise<boolean> {
  const fh = await open(file, "r");
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(1), 0, 1, 0);
    return bytesRead === 1 && buffer[0] === 0x08;
  } finally {
    await fh.close();
  }
}

/** How to mend a damaged model folder: the built-in model is generated, any other is fetched or exported again. */
export function repairAdvice(name: string, dir: string): string {
  if (name === "tiny") {
    return `regenerate it: run npm start, which regenerates it, or npm run tiny -w @videosdgx/workers -- ${dir} --force`;
  }
  return `download or export the model again into ${dir}`;
}

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, "utf8"));
}

/**
 * Says whether a model folder can serve jobs and, when not, exactly why (which file, what is wrong),
 * without loading any weights: cheap enough for every submission and every `GET /v1/models`.
 */
export async function inspectModel(modelsDir: string, name: string): Promise<InstallState> {
  const dir = path.join(modelsDir, name);
  const known = KNOWN_MODELS.get(name);
  if (known && !known.weights_public) return { installed: false, dir, reason: WEIGHTS_NOT_PUBLIC_REASON, manifest: known };
  if (!(await exists(dir))) {
    return { installed: false, dir, reason: `model folder ${dir} does not exist`, manifest: known };
  }
  const broken = (what: string): InstallState => ({ installed: false, dir, reason: `${what}; ${repairAdvice(name, dir)}`, manifest: known });
  for (const rel of REQUIRED_MODEL_FILES) {
    const file = path.join(dir, rel);
    const info = await stat(file).catch(() => undefined);
    if (!info) return broken(`missing file ${rel}`);
    if (!info.isFile() || info.size === 0) return broken(`${rel} is empty or not a file`);
    if (rel.endsWith(".onnx")) {
      if (!(await looksLikeOnnx(file))) return broken(`${rel} is not an ONNX model (bad header)`);
      const problem = await onnxStructureProblem(file, GRAPH_INTERFACES[rel]!);
      if (problem) return broken(`${rel} is damaged: ${problem}`);
    }
    if (rel.endsWith(".json")) {
      try {
        await readJson(file);
      } catch (err) {
        return broken(`${rel} is not valid JSON: ${(err as Error).message}`);
      }
    }
  }
  const parsed = ManifestSchema.safeParse(await readJson(path.join(dir, MANIFEST_FILE)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid";
    return { installed: false, dir, reason: `${MANIFEST_FILE} is invalid at ${where}`, manifest: known };
  }
  if (parsed.data.name !== name) {
    return { installed: false, dir, reason: `${MANIFEST_FILE} names model "${parsed.data.name}", but the folder is "${name}"`, manifest: known };
  }
  return { installed: true, dir, manifest: parsed.data };
}

const hasManifest = (modelsDir: string, name: string) => exists(path.join(modelsDir, name, MANIFEST_FILE));

/** Known models first, then any other folder under MODELS_DIR that carries a manifest. */
export async function listModelNames(modelsDir: string): Promise<string[]> {
  const names = new Set(KNOWN_MODELS.keys());
  const entries = await readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isDirectory() && !e.name.startsWith(".") && (await hasManifest(modelsDir, e.name))) names.add(e.name);
  }
  return [...names];
}

/** Whether listModelNames would list the name, without reading the whole folder: one stat at most. */
export async function isListedModel(modelsDir: string, name: string): Promise<boolean> {
  return KNOWN_MODELS.has(name) || (!name.startsWith(".") && (await hasManifest(modelsDir, name)));
}
