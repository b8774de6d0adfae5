import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { KNOWN_MODELS, WEIGHTS_NOT_PUBLIC_REASON } from "./catalog.js";
import { inspectModel, isListedModel, listModelNames } from "./inspect.js";
import { MANIFEST_FILE, ManifestSchema, REQUIRED_MODEL_FILES } from "./manifest.js";
import { DataType, encodeModel } from "./onnx-proto.js";
import { GRAPH_INTERFACES } from "./onnx-structure.js";

/** The smallest graph with the interface the pipeline expects of `rel`: its outputs copy its first input. */
function graphFor(rel: string): Uint8Array {
  const iface = GRAPH_INTERFACES[rel]!;
  const inputs = typeof iface.inputs === "number" ? ["latent_sample"] : [...iface.inputs];
  const outputs = iface.outputs.length > 0 ? [...iface.outputs] : ["out"];
  return encodeModel({
    name: rel,
    opset: 17,
    inputs: inputs.map((name) => ({ name, type: DataType.FLOAT, dims: [1] })),
    outputs: outputs.map((name) => ({ name, type: DataType.FLOAT, dims: [1] })),
    initializers: [],
    nodes: outputs.map((o) => ({ op: "Identity", name: `copy_${o}`, inputs: [inputs[0]!], outputs: [o] })),
  });
}

async function fakeModelFolder(root: string, name: string, manifest: unknown): Promise<string> {
  const dir = path.join(root, name);
  for (const rel of REQUIRED_MODEL_FILES) {
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

test("inspection says exactly which file is missing or wrong", async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), "inspect-"));
  t.after(() => rm(root, { recursive: true, force: true }));

  const missing = await inspectModel(root, "wan21");
  assert.equal(missing.installed, false);
  assert.match(!missing.installed ? missing.reason : "", /does not exist/);

  const waver = await inspectModel(root, "waver");
  assert.equal(!waver.installed && waver.reason, WEIGHTS_NOT_PUBLIC_REASON);

  const dir = await fakeModelFolder(root, "ltx2", KNOWN_MODELS.get("ltx2")!);
  assert.equal((await inspectModel(root, "ltx2")).installed, true);

  await writeFile(path.join(dir, "transformer/model.onnx"), "<html>404</html>");
  const badHeader = await inspectModel(root, "ltx2");
  assert.match(!badHeader.installed ? badHeader.reason : "", /transformer\/model\.onnx is not an ONNX model/);

  // Sound first byte, cut short: the structure check finds it, and says how to repair it.
  await writeFile(path.join(dir, "transformer/model.onnx"), graphFor("transformer/model.onnx").subarray(0, 30));
  const cut = await inspectModel(root, "ltx2");
  assert.match(!cut.installed ? cut.reason : "", /^transformer\/model\.onnx is damaged: .*runs past the end of the file; download or export the model again into /);

  await rm(path.join(dir, "tokenizer/tokenizer.json"));
  const noTokenizer = await inspectModel(root, "ltx2");
  assert.equal(!noTokenizer.installed && noTokenizer.reason, `missing file tokenizer/tokenizer.json; download or export the model again into ${dir}`);

  await fakeModelFolder(root, "custom", { ...KNOWN_MODELS.get("tiny")!, name: "other" });
  const wrongName = await inspectModel(root, "custom");
  assert.match(!wrongName.installed ? wrongName.reason : "", /names model "other"/);
  assert.ok((await listModelNames(root)).includes("custom"));
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
