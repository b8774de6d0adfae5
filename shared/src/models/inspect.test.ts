import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { KNOWN_MODELS, WEIGHTS_NOT_PUBLIC_REASON } from "./catalog.js";
import { inspectModel, isListedModel, listModelNames, repairAdvice } from "./inspect.js";
import { genericContract } from "./families/generic.js";
import { MANIFEST_FILE, ManifestSchema } from "./manifest.js";
import { DataType, encodeModel, type DataTypeCode } from "./onnx-proto.js";

const CODES: Record<string, DataTypeCode> = { float32: DataType.FLOAT, float16: DataType.FLOAT16, int64: DataType.INT64, uint8: DataType.UINT8 };

/**
 * The smallest graph that declares what the generic family expects of `rel` (names, first allowed type,
 * rank): each output copies the first input. `outputName` renames the first output.
 */
function graphFor(rel: string, outputName?: string): Uint8Array {
  const contract = genericContract.graphs[rel]!;
  const info = (t: { name: string; types: readonly string[]; rank: number }, name = t.name) => ({
    name, type: CODES[t.types[0]!]!, dims: Array.from({ length: t.rank }, (_, i) => `d${i}`),
  });
  const outputs = contract.outputs.map((t, i) => info(t, i === 0 && outputName ? outputName : t.name));
  return encodeModel({
    name: rel,
    opset: 17,
    inputs: contract.inputs.map((t) => info(t)),
    outputs,
    initializers: [],
    nodes: outputs.map((o) => ({ op: "Identity", name: `copy_${o.name}`, inputs: [contract.inputs[0]!.name], outputs: [o.name] })),
  });
}

async function fakeModelFolder(root: string, name: string, manifest: unknown): Promise<string> {
  const dir = path.join(root, name);
  for (const rel of [...genericContract.files, MANIFEST_FILE]) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    const body = rel === MANIFEST_FILE ? JSON.stringify(manifest) : rel.endsWith(".onnx") ? graphFor(rel) : "{}";
    await writeFile(path.join(dir, rel), body);
  }
  return dir;
}

test("every catalogue entry is a valid manifest", () => {
  for (const [name, m] of KNOWN_MODELS) {
    assert.ok(ManifestSchema.safeParse(m).success, name);
    assert.equal(m.name, name);
  }
});

test("a manifest with a broken rule is refused", () => {
  const bad = structuredClone(KNOWN_MODELS.get("tiny")!) as { constraints: { steps: { default: number } } };
  bad.constraints.steps.default = 5000;
  assert.equal(ManifestSchema.safeParse(bad).success, false);
});

test("a preview projection needs one RGB row per latent channel; its bias defaults to 0", () => {
  const tiny = KNOWN_MODELS.get("tiny")!; // 4 latent channels
  const rows = (n: number) => Array.from({ length: n }, () => [0.1, 0.2, 0.3]);
  const ok = ManifestSchema.parse({ ...tiny, preview: { latent_rgb_factors: rows(4) } });
  assert.deepEqual(ok.preview?.latent_rgb_bias, [0, 0, 0]);
  const bad = ManifestSchema.safeParse({ ...tiny, preview: { latent_rgb_factors: rows(3) } });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error?.issues[0]?.path, ["preview", "latent_rgb_factors"]);
  assert.match(bad.error!.issues[0]!.message, /one row per latent channel \(latent.channels 4\), got 3/);
  assert.equal(ManifestSchema.safeParse({ ...tiny, preview: { latent_rgb_factors: [[1, 2]] } }).success, false);
});

test("inspection says exactly which file is missing or wrong", async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), "inspect-"));
  t.after(() => rm(root, { recursive: true, force: true }));

  const missing = await inspectModel(root, "wan21");
  assert.equal(missing.installed, false);
  assert.match(!missing.installed ? missing.reason : "", /does not exist/);

  const waver = await inspectModel(root, "waver");
  assert.equal(!waver.installed && waver.reason, WEIGHTS_NOT_PUBLIC_REASON);

  // A folder naming a family without a module is refused before its files are looked at.
  await fakeModelFolder(root, "hunyuan", { ...KNOWN_MODELS.get("magi1")!, name: "hunyuan", family: "hunyuan" });
  const other = await inspectModel(root, "hunyuan");
  assert.match(!other.installed ? other.reason : "", /names family "hunyuan", which is not supported yet \(supported: generic, wan, ltx2, magi\)/);

  // Graphs that declare what the family expects pass (the contract checks are tested with real graphs in
  // workers/src/families).
  const dir = await fakeModelFolder(root, "plain", { ...KNOWN_MODELS.get("tiny")!, name: "plain" });
  assert.equal((await inspectModel(root, "plain")).installed, true);

  // A sound graph that breaks the contract: named with the family, and how to repair it.
  await writeFile(path.join(dir, "transformer/model.onnx"), graphFor("transformer/model.onnx", "noise_pred"));
  const renamed = await inspectModel(root, "plain");
  assert.equal(
    !renamed.installed && renamed.reason,
    `transformer/model.onnx has no output named out_hidden_states ([B, C, F_lat, H_lat, W_lat]); its outputs: noise_pred (family generic); download or export the model again into ${dir}`,
  );

  // A header (ir_version 8) and nothing else: it passes the header check, not the structure check.
  await writeFile(path.join(dir, "transformer/model.onnx"), Buffer.from([0x08, 0x08, 0x12, 0x00]));
  const noGraph = await inspectModel(root, "plain");
  assert.match(!noGraph.installed ? noGraph.reason : "", /^transformer\/model\.onnx is damaged: it imports no operator set; download or export/);

  await writeFile(path.join(dir, "transformer/model.onnx"), "<html>404</html>");
  const badHeader = await inspectModel(root, "plain");
  assert.match(!badHeader.installed ? badHeader.reason : "", /transformer\/model\.onnx is not an ONNX model/);

  // Sound first byte, cut short: the structure check finds it, and says how to repair it.
  await writeFile(path.join(dir, "transformer/model.onnx"), graphFor("transformer/model.onnx").subarray(0, 30));
  const cut = await inspectModel(root, "plain");
  assert.match(!cut.installed ? cut.reason : "", /^transformer\/model\.onnx is damaged: .*runs past the end of the file; download or export the model again into /);

  await rm(path.join(dir, "tokenizer/tokenizer.json"));
  const noTokenizer = await inspectModel(root, "plain");
  assert.equal(!noTokenizer.installed && noTokenizer.reason, `missing file tokenizer/tokenizer.json; download or export the model again into ${dir}`);

  await fakeModelFolder(root, "custom", { ...KNOWN_MODELS.get("tiny")!, name: "other" });
  const wrongName = await inspectModel(root, "custom");
  assert.match(!wrongName.installed ? wrongName.reason : "", /names model "other"/);
  assert.ok((await listModelNames(root)).includes("custom"));
});

test("repair advice: every built-in model is regenerated, any other downloaded or exported again", () => {
  assert.equal(repairAdvice("tiny", "/m/tiny"), "regenerate it: run npm start, which regenerates it, or npm run tiny -w @videosdgx/workers -- /m/tiny --force");
  assert.equal(repairAdvice("tinywan", "/m/tinywan"), "regenerate it: run npm start, which regenerates it");
  assert.equal(repairAdvice("wan21", "/m/wan21"), "download or export the model again into /m/wan21");
});

test("names that are properties of every object are not models", async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), "inspect-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (const name of ["constructor", "__proto__", "valueOf"]) {
    const state = await inspectModel(root, name);
    assert.equal(state.installed, false, name);
    assert.equal(state.manifest, undefined, name);
    assert.match(!state.installed ? state.reason : "", /does not exist/, name);
    assert.equal(await isListedModel(root, name), false, name);
  }
  assert.equal(await isListedModel(root, "tiny"), true, "catalogue models are listed without a folder");
});
