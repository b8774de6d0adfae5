import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { test } from "node:test";
import { BUILTIN_MODEL_NAMES, inspectModel } from "@videosdgx/shared";
import { makeTempDir } from "@videosdgx/shared/testing";
import { ensureBuiltinModels } from "../builtin/index.js";
import { isTinyWanModelCurrent } from "../tinywan/generate.js";
import { generateTinyModel, isTinyModelCurrent } from "./generate.js";

const run = promisify(execFile);
const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), "cli.js");

/** A fresh tiny model in its own folder; the transformer's path. */
async function freshTiny(t: { after: (fn: () => Promise<void>) => void }): Promise<{ root: string; dir: string; file: string }> {
  const { dir: root, remove } = await makeTempDir("tiny-repair");
  t.after(remove);
  const dir = path.join(root, "tiny");
  await generateTinyModel(dir);
  return { root, dir, file: path.join(dir, "transformer/model.onnx") };
}

/** What `npm start` does with the tiny model (ensureBuiltinModels): the CLI makes the same calls. */
async function ensureWithCli(dir: string): Promise<string> {
  return (await run(process.execPath, [CLI, dir])).stdout;
}

test("a tiny transformer broken in its middle is reported with the repair advice, and regenerated", async (t) => {
  const { root, dir, file } = await freshTiny(t);
  const bytes = await readFile(file);
  // The length of a node's op_type (field 4: tag 0x22, 8 bytes "Identity") past the middle of the file:
  // set to 127, the field runs past its node and the protobuf no longer nests.
  const at = bytes.indexOf(Buffer.concat([Buffer.from([0x22, 0x08]), Buffer.from("Identity")]), Math.floor(bytes.length / 2)) + 1;
  assert.ok(at > bytes.length / 2, "an operator name in the second half");
  bytes[at] = 0x7f;
  await writeFile(file, bytes);

  const state = await inspectModel(root, "tiny");
  assert.equal(state.installed, false);
  assert.match(!state.installed ? state.reason : "", /^transformer\/model\.onnx is damaged: .*; regenerate it: run npm start, which regenerates it/);
  assert.equal(await isTinyModelCurrent(dir), false);
  assert.match(await ensureWithCli(dir), /tiny model written/);
  assert.equal((await inspectModel(root, "tiny")).installed, true);
  assert.match(await ensureWithCli(dir), /is current/);
});

test("a truncated tiny transformer is reported broken and regenerated", async (t) => {
  const { root, dir, file } = await freshTiny(t);
  await truncate(file, Math.floor((await readFile(file)).length * 0.6));
  const state = await inspectModel(root, "tiny");
  assert.match(!state.installed ? state.reason : "", /transformer\/model\.onnx is damaged: .*runs past the end of the file/);
  assert.match(await ensureWithCli(dir), /tiny model written/);
  assert.equal(await isTinyModelCurrent(dir), true);
});

test("a flipped weight byte leaves the structure sound, so only the checksums see it; start regenerates it", async (t) => {
  const { root, dir, file } = await freshTiny(t);
  const bytes = await readFile(file);
  // Inside the last four-byte raw_data (field 9: tag 0x4a, length 4): one scalar weight.
  const at = bytes.lastIndexOf(Buffer.from([0x4a, 0x04])) + 3;
  bytes[at] = bytes[at]! ^ 0x01;
  await writeFile(file, bytes);
  assert.equal((await inspectModel(root, "tiny")).installed, true, "its structure still checks out");
  assert.equal(await isTinyModelCurrent(dir), false, "its checksum does not");
  assert.match(await ensureWithCli(dir), /tiny model written/);
  assert.equal(await isTinyModelCurrent(dir), true);
});

test("a truncated tinywan transformer is reported with the advice to regenerate it, and npm start regenerates only it", async (t) => {
  const { dir: root, remove } = await makeTempDir("tinywan-repair");
  t.after(remove);
  const generated: string[] = [];
  await ensureBuiltinModels(root, (name) => generated.push(name));
  assert.deepEqual(generated, [...BUILTIN_MODEL_NAMES] as string[]);

  const dir = path.join(root, "tinywan");
  const file = path.join(dir, "transformer/model.onnx");
  await truncate(file, Math.floor((await readFile(file)).length * 0.6));
  const state = await inspectModel(root, "tinywan");
  assert.match(!state.installed ? state.reason : "", /^transformer\/model\.onnx is damaged: .*runs past the end of the file; regenerate it: run npm start, which regenerates it$/);
  assert.equal(await isTinyWanModelCurrent(dir), false);

  generated.length = 0;
  await ensureBuiltinModels(root, (name) => generated.push(name));
  assert.deepEqual(generated, ["tinywan"], "the sound built-in models are left alone");
  assert.equal(await isTinyWanModelCurrent(dir), true);
  assert.equal((await inspectModel(root, "tinywan")).installed, true);
});
