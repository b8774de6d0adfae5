import assert from "node:assert/strict";
import { test } from "node:test";
import { modelSource } from "./sources.js";

test("magi1 pulls one base DiT checkpoint (the export refuses distilled and fp8 ones), the VAE and T5", () => {
  const source = modelSource("magi1");
  assert.ok(source?.kind === "hub");
  const include = source.parts.flatMap((p) => p.include);
  const dits = include.filter((glob) => glob.startsWith("ckpt/magi/"));
  assert.deepEqual(dits, ["ckpt/magi/4.5B_base/**"]);
  assert.ok(include.includes("ckpt/vae/**") && include.includes("ckpt/t5/**"));
});
