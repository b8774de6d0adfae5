import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSchedulerConfig } from "./scheduler-config.js";

test("an empty config gets diffusers' defaults", () => {
  const c = parseSchedulerConfig({});
  assert.equal(c.num_train_timesteps, 1000);
  assert.equal(c.shift, 1);
  assert.equal(c.use_dynamic_shifting, false);
  assert.equal(c.base_shift, 0.5);
  assert.equal(c.max_shift, 1.15);
  assert.equal(c.base_image_seq_len, 256);
  assert.equal(c.max_image_seq_len, 4096);
  assert.equal(c.time_shift_type, "exponential");
  assert.equal(c.shift_terminal, undefined);
});

test("a Flux-style config parses; unknown keys, false flags and nulls are accepted", () => {
  const c = parseSchedulerConfig({
    _class_name: "FlowMatchEulerDiscreteScheduler",
    _diffusers_version: "0.35.0",
    base_image_seq_len: 256,
    base_shift: null,
    invert_sigmas: false,
    max_image_seq_len: 4096,
    max_shift: 1.15,
    num_train_timesteps: 1000,
    shift: 3.0,
    shift_terminal: null,
    time_shift_type: "linear",
    use_beta_sigmas: false,
    use_dynamic_shifting: true,
    use_karras_sigmas: false,
  });
  assert.equal(c.shift, 3);
  assert.equal(c.use_dynamic_shifting, true);
  assert.equal(c.base_shift, 0.5, "null falls back to the default");
  assert.equal(c.time_shift_type, "linear");
  assert.equal(c.shift_terminal, null);
  assert.equal((c as Record<string, unknown>)._diffusers_version, "0.35.0");
});

test("wrong types are rejected with the field named", () => {
  assert.throws(() => parseSchedulerConfig({ shift: "3" }), /invalid scheduler_config\.json[\s\S]*shift/);
  assert.throws(() => parseSchedulerConfig({ num_train_timesteps: 999.5 }), /num_train_timesteps/);
  assert.throws(() => parseSchedulerConfig({ time_shift_type: "cosine" }), /time_shift_type/);
  assert.throws(() => parseSchedulerConfig({ shift_terminal: 1 }), /shift_terminal/);
  assert.throws(() => parseSchedulerConfig(null), /invalid scheduler_config\.json/);
  assert.throws(() => parseSchedulerConfig([]), /invalid scheduler_config\.json/);
});

test("schedule variants the sampler does not implement are rejected, not ignored", () => {
  for (const flag of ["use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "invert_sigmas", "stochastic_sampling"]) {
    assert.throws(() => parseSchedulerConfig({ [flag]: true }), new RegExp(`${flag}|not supported`));
  }
  assert.throws(() => parseSchedulerConfig({ _class_name: "UniPCMultistepScheduler" }), /_class_name/);
});

test("dynamic shifting needs a non-empty sequence-length range", () => {
  assert.throws(
    () => parseSchedulerConfig({ use_dynamic_shifting: true, base_image_seq_len: 4096, max_image_seq_len: 4096 }),
    /max_image_seq_len/,
  );
  assert.doesNotThrow(() => parseSchedulerConfig({ base_image_seq_len: 4096, max_image_seq_len: 4096 }));
});
