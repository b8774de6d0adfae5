import assert from "node:assert/strict";
import { test } from "node:test";
import { spawnNode } from "./processes.js";

test("a spawned test process gets an environment built from scratch, not the caller's shell", async (t) => {
  const poisoned = { DATA_DIR: "/tmp/should-not-be-used", OUTPUTS_DIR: "/tmp/should-not-be-used", REDIS_URL: "redis://poison:1" };
  const saved = Object.fromEntries(Object.keys(poisoned).map((k) => [k, process.env[k]]));
  Object.assign(process.env, poisoned);
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  // `--print <expr>`: the child prints the environment it received.
  const dump = spawnNode("env-dump", "--print", { QUEUE_PREFIX: "set-by-test" }, ["JSON.stringify(process.env)"]);
  await new Promise((resolve) => dump.child.once("close", resolve));
  const env = JSON.parse(dump.output) as Record<string, string>;
  assert.equal(env.QUEUE_PREFIX, "set-by-test");
  assert.equal(env.PATH, process.env.PATH);
  for (const name of Object.keys(poisoned)) assert.equal(env[name], undefined, `${name} leaked from the caller`);
  assert.deepEqual(Object.keys(env).filter((k) => !["PATH", "HOME", "TMPDIR", "QUEUE_PREFIX"].includes(k)), []);
});
