import assert from "node:assert/strict";
import { cp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { FAMILY_CONTRACTS, inspectModel, JobFailure } from "@videosdgx/shared";
import { makeTempDir } from "@videosdgx/shared/testing";
import { DataType, GraphBuilder } from "../onnx/graph-builder.js";
import { loadModel } from "../runtime/loaded-model.js";
import { ModelFolder } from "../runtime/model-folder.js";
import { generateTinyWanModel } from "../tinywan/generate.js";
import { FAMILIES } from "./registry.js";

let dir: string;
let remove: () => Promise<void>;
before(async () => {
  ({ dir, remove } = await makeTempDir("families"));
  await generateTinyWanModel(path.join(dir, "tinywan"));
});
after(() => remove());

/** A copy of tinywan under another name, changed by `change`. */
async function variant(name: string, change: (folder: string) => Promise<void>): Promise<string> {
  const folder = path.join(dir, name);
  await cp(path.join(dir, "tinywan"), folder, { recursive: true });
  const manifest = path.join(folder, "videosdgx.json");
  await writeFile(manifest, (await readFile(manifest, "utf8")).replace('"name": "tinywan"', `"name": "${name}"`));
  await change(folder);
  return folder;
}

/** How inspection says to repair a copy (not a built-in model) named `name`. */
const advice = (name: string) => `; download or export the model again into ${path.join(dir, name)}`;

const reasonOf = async (name: string) => {
  const state = await inspectModel(dir, name);
  assert.equal(state.installed, false, name);
  return state.installed ? "" : state.reason;
};

test("every family contract has a runtime module and every module a contract", () => {
  assert.deepEqual([...FAMILIES.keys()].sort(), [...FAMILY_CONTRACTS.keys()].sort());
  for (const [name, family] of FAMILIES) assert.equal(family.contract, FAMILY_CONTRACTS.get(name));
});

/** A transformer like tinywan's at its boundary but answering under another output name. */
function renamedOutputTransformer(): Uint8Array {
  const g = new GraphBuilder("renamed");
  const x = g.input("hidden_states", DataType.FLOAT16, ["batch", 16, "f", "h", "w"]);
  g.input("timestep", DataType.INT64, ["batch"]);
  g.input("encoder_hidden_states", DataType.FLOAT16, ["batch", "sequence", 16]);
  g.output(x, "noise_pred", DataType.FLOAT16, ["batch", 16, "f", "h", "w"]);
  return g.build();
}

test("a folder breaking the wan contract is not installed, the reason naming the file, field or tensor", async () => {
  await variant("renamed", (f) => writeFile(path.join(f, "transformer/model.onnx"), renamedOutputTransformer()));
  assert.equal(await reasonOf("renamed"), `transformer/model.onnx has no output named out_sample ([B, 16, F_lat, H/8, W/8]); its outputs: noise_pred (family wan)${advice("renamed")}`);

  await variant("novaeconfig", (f) => rm(path.join(f, "vae_decoder/config.json")));
  assert.equal(await reasonOf("novaeconfig"), `missing file vae_decoder/config.json${advice("novaeconfig")}`);

  await variant("shortstats", async (f) => {
    const file = path.join(f, "vae_decoder/config.json");
    const config = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, JSON.stringify({ ...config, latents_std: config.latents_std.slice(0, 4) }));
  });
  assert.match(await reasonOf("shortstats"), /^vae_decoder\/config\.json: latents_std must be 16 finite positive numbers \(one per latent channel\), got 4 values/);

  // The text encoder's states in rank 2: the wrong rank is named with the shape the family reads.
  await variant("flattext", async (f) => {
    const g = new GraphBuilder("flat");
    const ids = g.input("input_ids", DataType.INT64, ["batch", "sequence"]);
    g.input("attention_mask", DataType.INT64, ["batch", "sequence"]);
    g.output(g.op("Cast", [ids], { to: { int: DataType.FLOAT } }), "last_hidden_state", DataType.FLOAT, ["batch", "sequence"]);
    await writeFile(path.join(f, "text_encoder/model.onnx"), g.build());
  });
  assert.equal(await reasonOf("flattext"), `text_encoder/model.onnx output last_hidden_state has rank 2, expected 3 ([B, L, D]) (family wan)${advice("flattext")}`);

  await variant("otherfamily", async (f) => {
    const file = path.join(f, "videosdgx.json");
    await writeFile(file, (await readFile(file, "utf8")).replace('"family": "wan"', '"family": "hunyuan"'));
  });
  assert.match(await reasonOf("otherfamily"), /names family "hunyuan", which is not supported yet \(supported: generic, wan, ltx2, magi\)/);
});

test("a graph input the pipeline would never feed is refused at inspection, and again by the loaded session", async () => {
  await variant("extrainput", async (f) => {
    const g = new GraphBuilder("extra");
    const z = g.input("latent_sample", DataType.FLOAT, [1, 16, "f", "h", "w"]);
    g.input("decode_timestep", DataType.FLOAT, [1]);
    g.output(g.op("Slice", [z, g.ints([0]), g.ints([3]), g.ints([1])]), "sample", DataType.FLOAT, [1, 3, "f", "h", "w"]);
    await writeFile(path.join(f, "vae_decoder/model.onnx"), g.build());
  });
  // Inspection reads the file's inputs less its initializers, as the session's metadata lists them.
  assert.equal(await reasonOf("extrainput"), `vae_decoder/model.onnx has an input decode_timestep that the pipeline does not feed (family wan)${advice("extrainput")}`);
  await assert.rejects(loadModel(dir, "extrainput", {}), (err: unknown) => {
    assert.ok(err instanceof JobFailure);
    assert.equal(err.code, "model_missing");
    assert.match(err.message, /^model extrainput is not installed: vae_decoder\/model\.onnx has an input decode_timestep/);
    return true;
  });
  // The session opened from the file is checked on its own (a file changed after inspection): past
  // inspection, as a family module opens it.
  const manifest = JSON.parse(await readFile(path.join(dir, "extrainput/videosdgx.json"), "utf8"));
  const folder = new ModelFolder("extrainput", path.join(dir, "extrainput"), manifest, FAMILY_CONTRACTS.get("wan")!, {});
  await assert.rejects(folder.session("vae_decoder"), (err: unknown) => {
    assert.ok(err instanceof JobFailure);
    assert.equal(err.code, "model_invalid");
    assert.match(err.message, /vae_decoder\/model\.onnx has an input decode_timestep that the pipeline does not feed \(family wan\)/);
    return true;
  });
  await folder.release();
});
