import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ConfigSchema, loadConfig } from "./config.js";
import { ConfigError } from "./errors.js";

test("defaults give a working local set-up", () => {
  const c = loadConfig({});
  assert.equal(c.HOST, "127.0.0.1");
  assert.equal(c.PORT, 8000);
  assert.equal(c.MODELS_DIR, path.resolve("data/models"));
  assert.deepEqual(c.ORT_EXECUTION_PROVIDERS, ["cpu"]);
});

test("bad values fail with every variable named", () => {
  assert.throws(
    () => loadConfig({ PORT: "eighty", REDIS_URL: "http://x", X264_PRESET: "turbo" }),
    (err: unknown) =>
      err instanceof ConfigError && /PORT="eighty"/.test(err.message) && /REDIS_URL/.test(err.message) && /X264_PRESET/.test(err.message),
  );
});

test(".env.example documents every variable, each with a comment", async () => {
  const { readFile } = await import("node:fs/promises");
  const example = await readFile(new URL("../../.env.example", import.meta.url), "utf8");
  const lines = example.split("\n");
  for (const key of Object.keys(ConfigSchema.in.shape)) {
    const at = lines.findIndex((l) => new RegExp(`^#? ?${key}=`).test(l));
    assert.ok(at > 0, `${key} is missing from .env.example`);
    assert.ok(lines.slice(0, at).reverse().find((l) => !/^#? ?[A-Z0-9_]+=/.test(l))?.startsWith("#"), `${key} has no comment`);
  }
});
