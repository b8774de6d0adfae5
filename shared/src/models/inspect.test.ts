import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { KNOWN_MODELS, WEIGHTS_NOT_PUBLIC_REASON } from "./catalog.js";
import { inspectModel, isListedModel, listModelNames } from "./inspect.js";
import { genericContract } from "./families/generic.js";
import { MANIFEST_FILE, ManifestSchema } from "./manifest.js";

/** A header (ir_version 8) and nothing else: it passes the header check, not the graph check. */
const ONNX_STUB = Buffer.from([0x08, 0x08, 0x12, 0x00]);

async function fakeModelFolder(root: string, name: string, manifest: unknown): Promise<string> {
  const dir = path.join(root, name);
  for (const rel of [...genericContract.files, MANIFEST_FILE]) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    const body = rel === MANIFEST_FILE ? JSON.stringify(manifest) : rel.endsWith(".onnx") ? ONNX_STUB : "{}";
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

  // A folder naming a family without a module is refused before its files are looked at.
  await fakeModelFolder(root, "ltx2", KNOWN_MODELS.get("ltx2")!);
  const ltx = await inspectModel(root, "ltx2");
  assert.match(!ltx.installed ? ltx.reason : "", /names family "ltx2", which is not supported yet \(supported: generic, wan, magi\)/);

  // Graphs are read for their inputs and outputs (the graph checks themselves are tested with real graphs
  // in workers/src/families): a header with no graph is refused, naming the file.
  const dir = await fakeModelFolder(root, "plain", { ...KNOWN_MODELS.get("tiny")!, name: "plain" });
  const noGraph = await inspectModel(root, "plain");
  assert.match(!noGraph.installed ? noGraph.reason : "", /^text_encoder\/model\.onnx cannot be read as an ONNX model: the file holds no graph/);

  await writeFile(path.join(dir, "transformer/model.onnx"), "<html>404</html>");
  const badHeader = await inspectModel(root, "plain");
  assert.match(!badHeader.installed ? badHeader.reason : "", /transformer\/model\.onnx is not an ONNX model/);

  await rm(path.join(dir, "tokenizer/tokenizer.json"));
  const noTokenizer = await inspectModel(root, "plain");
  assert.equal(!noTokenizer.installed && noTokenizer.reason, "missing file tokenizer/tokenizer.json");

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
