import { open, readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { isBuiltinModel, KNOWN_MODELS, WEIGHTS_NOT_PUBLIC_REASON } from "./catalog.js";
import { checkGraph, contractFor, type GraphContract } from "./families/contract.js";
import { FAMILY_CONTRACTS } from "./families/registry.js";
import { MANIFEST_FILE, ManifestSchema, type Manifest } from "./manifest.js";
import { readOnnxGraph } from "./onnx-structure.js";

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

/** How to mend a damaged model folder: a built-in model is generated, any other is fetched or exported again. */
export function repairAdvice(name: string, dir: string): string {
  if (!isBuiltinModel(name)) return `download or export the model again into ${dir}`;
  // tiny has its own generator command (compose.yaml's model init runs it too); every built-in has npm start.
  const command = name === "tiny" ? `, or npm run tiny -w @videosdgx/workers -- ${dir} --force` : "";
  return `regenerate it: run npm start, which regenerates it${command}`;
}

async function readJson(file: string): Promise<unknown> {
  return JSON.parse(await readFile(file, "utf8"));
}

/** The file is there, not empty, and looks like what its name says (ONNX header, valid JSON); else why not. */
async function checkFile(dir: string, rel: string): Promise<string | undefined> {
  const file = path.join(dir, rel);
  const info = await stat(file).catch(() => undefined);
  if (!info) return `missing file ${rel}`;
  if (!info.isFile() || info.size === 0) return `${rel} is empty or not a file`;
  if (rel.endsWith(".onnx") && !(await looksLikeOnnx(file))) return `${rel} is not an ONNX model (bad header)`;
  if (rel.endsWith(".json")) {
    try {
      await readJson(file);
    } catch (err) {
      return `${rel} is not valid JSON: ${(err as Error).message}`;
    }
  }
  return undefined;
}

/** A graph's structure, then what it declares against the family's contract; else undefined. */
async function checkGraphFile(dir: string, rel: string, contract: GraphContract, family: string): Promise<string | undefined> {
  const reading = await readOnnxGraph(path.join(dir, rel));
  if (reading.problem !== undefined) return `${rel} is damaged: ${reading.problem}`;
  const reason = checkGraph(rel, contract, reading.signature);
  return reason && `${reason} (family ${family})`;
}

/**
 * The folder against its family's contract: files, config files and manifest fields, then each graph's
 * structure, inputs and outputs. `advise` adds how to repair to what is wrong with the files themselves.
 */
async function checkFamilyContract(dir: string, manifest: Manifest, advise: (what: string) => string): Promise<string | undefined> {
  const known = FAMILY_CONTRACTS.get(manifest.family);
  if (!known) {
    return `${MANIFEST_FILE} names family "${manifest.family}", which is not supported yet (supported: ${[...FAMILY_CONTRACTS.keys()].join(", ")})`;
  }
  if (manifest.capabilities.i2v && !known.variantFor) return `${MANIFEST_FILE}: capabilities.i2v is true, but family ${known.name} has no image-to-video pipeline`;
  const family = contractFor(known, manifest);
  for (const rel of family.files) {
    const reason = await checkFile(dir, rel);
    if (reason) return advise(reason);
  }
  const folderReason = await family.checkFolder(manifest, (rel) => readJson(path.join(dir, rel)));
  if (folderReason) return folderReason;
  for (const [rel, contract] of Object.entries(family.graphs)) {
    const reason = await checkGraphFile(dir, rel, contract, family.name);
    if (reason) return advise(reason);
  }
  return undefined;
}

/**
 * Says whether a model folder can serve jobs and, when not, exactly why (which file, field or tensor is
 * wrong), without loading any weights: cheap enough for every submission and every `GET /v1/models`.
 */
export async function inspectModel(modelsDir: string, name: string): Promise<InstallState> {
  const dir = path.join(modelsDir, name);
  const known = KNOWN_MODELS.get(name);
  if (known && !known.weights_public) return { installed: false, dir, reason: WEIGHTS_NOT_PUBLIC_REASON, manifest: known };
  if (!(await exists(dir))) {
    return { installed: false, dir, reason: `model folder ${dir} does not exist`, manifest: known };
  }
  const advise = (what: string) => `${what}; ${repairAdvice(name, dir)}`;
  const manifestReason = await checkFile(dir, MANIFEST_FILE);
  if (manifestReason) return { installed: false, dir, reason: advise(manifestReason), manifest: known };
  const parsed = ManifestSchema.safeParse(await readJson(path.join(dir, MANIFEST_FILE)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid";
    return { installed: false, dir, reason: `${MANIFEST_FILE} is invalid at ${where}`, manifest: known };
  }
  if (parsed.data.name !== name) {
    return { installed: false, dir, reason: `${MANIFEST_FILE} names model "${parsed.data.name}", but the folder is "${name}"`, manifest: known };
  }
  const contractReason = await checkFamilyContract(dir, parsed.data, advise);
  if (contractReason) return { installed: false, dir, reason: contractReason, manifest: known ?? parsed.data };
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
