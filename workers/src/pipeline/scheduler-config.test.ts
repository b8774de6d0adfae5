import { test } from "node:test";
import assert from "node:assert/strict";
import type { FlowMatchConfig } from "./flow-match-config.js";
import { parseSchedulerConfig } from "./scheduler-config.js";
import type { UniPCConfig } from "./unipc-config.js";
import { TINYWAN_SCHEDULER_CONFIG } from "../tinywan/generate.js";

function flowMatch(raw: unknown): FlowMatchConfig {
  const c = parseSchedulerConfig(raw);
  assert.equal(c._class_name, "FlowMatchEulerDiscreteScheduler");
  return c as FlowMatchConfig;
}

function uniPC(raw: object): UniPCConfig {
  const c = parseSchedulerConfig({ _class_name: "UniPCMultistepScheduler", ...raw });
  assert.equal(c._class_name, "UniPCMultistepScheduler");
  return c as UniPCConfig;
}

/** Wan 2.1's scheduler/scheduler_config.json (T2V 1.3B, diffusers format), as tinywan ships it. */
const WAN21 = TINYWAN_SCHEDULER_CONFIG;

test("an empty config gets diffusers' defaults", () => {
  const c = flowMatch({});
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
  const c = flowMatch({
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
  assert.throws(() => parseSchedulerConfig({ _class_name: "DPMSolverMultistepScheduler" }), /_class_name "DPMSolverMultistepScheduler" is not supported/);
  assert.throws(() => parseSchedulerConfig({ _class_name: 7 }), /_class_name/);
});

test("dynamic shifting needs a non-empty sequence-length range", () => {
  assert.throws(
    () => parseSchedulerConfig({ use_dynamic_shifting: true, base_image_seq_len: 4096, max_image_seq_len: 4096 }),
    /max_image_seq_len/,
  );
  assert.doesNotThrow(() => parseSchedulerConfig({ base_image_seq_len: 4096, max_image_seq_len: 4096 }));
});

test("Wan 2.1's own UniPC config loads with its values", () => {
  const c = uniPC(WAN21);
  assert.equal(c.flow_shift, 3);
  assert.equal(c.solver_order, 2);
  assert.equal(c.solver_type, "bh2");
  assert.equal(c.lower_order_final, true);
  assert.equal(c.final_sigmas_type, "zero");
  assert.deepEqual(c.disable_corrector, []);
});

test("UniPC: defaults that would sample differently must be stated, and the DPM-Solver names mean bh2", () => {
  // diffusers' defaults are epsilon prediction on VP sigmas: neither is implemented.
  assert.throws(() => parseSchedulerConfig({ _class_name: "UniPCMultistepScheduler" }), /prediction_type[\s\S]*use_flow_sigmas/);
  const c = uniPC({ prediction_type: "flow_prediction", use_flow_sigmas: true });
  assert.equal(c.solver_order, 2);
  assert.equal(c.flow_shift, 1);
  assert.equal(uniPC({ ...WAN21, solver_type: "midpoint" }).solver_type, "bh2");
  assert.equal(uniPC({ ...WAN21, solver_order: 1, solver_type: "bh1", final_sigmas_type: "sigma_min" }).solver_type, "bh1");
});

test("UniPC options that change sampling and are not implemented are refused, naming the field", () => {
  const refused: [object, RegExp][] = [
    [{ prediction_type: "epsilon" }, /prediction_type/],
    [{ prediction_type: "v_prediction" }, /prediction_type/],
    [{ use_flow_sigmas: false }, /use_flow_sigmas/],
    [{ solver_order: 4 }, /1, 2 or 3[\s\S]*solver_order/],
    [{ solver_order: 0 }, /solver_order/],
    [{ solver_type: "euler" }, /solver_type/],
    [{ predict_x0: false }, /predict_x0/],
    [{ thresholding: true }, /thresholding/],
    [{ use_karras_sigmas: true }, /use_karras_sigmas/],
    [{ use_exponential_sigmas: true }, /use_exponential_sigmas/],
    [{ use_beta_sigmas: true }, /use_beta_sigmas/],
    [{ use_dynamic_shifting: true }, /use_dynamic_shifting/],
    [{ shift_terminal: 0.1 }, /shift_terminal/],
    [{ solver_p: { _class_name: "DDIMScheduler" } }, /solver_p/],
    [{ final_sigmas_type: "one" }, /final_sigmas_type/],
    [{ disable_corrector: [-1] }, /disable_corrector/],
    [{ flow_shift: 0 }, /flow_shift/],
    [{ beta_schedule: "cosine" }, /beta_schedule/],
    // Combinations where diffusers' own last step is NaN or infinite (checked with diffusers).
    [{ solver_type: "bh1" }, /NaN[\s\S]*solver_type/],
    [{ lower_order_final: false }, /lower_order_final/],
    [{ lower_order_final: false, solver_order: 3, final_sigmas_type: "sigma_min" }, /lower_order_final/],
  ];
  for (const [change, field] of refused) {
    assert.throws(() => parseSchedulerConfig({ ...WAN21, ...change }), field, JSON.stringify(change));
  }
  assert.doesNotThrow(() => uniPC({ ...WAN21, lower_order_final: false, final_sigmas_type: "sigma_min" }));
  assert.doesNotThrow(() => uniPC({ ...WAN21, lower_order_final: false, solver_order: 1 }));
});

test("UniPC keys flow sigmas never read are accepted", () => {
  const c = uniPC({
    ...WAN21,
    beta_schedule: "scaled_linear",
    trained_betas: [0.1, 0.2],
    rescale_betas_zero_snr: true,
    steps_offset: 1,
    timestep_spacing: "trailing",
    sample_max_value: 2,
    sigma_min: null,
    sigma_max: null,
  });
  assert.equal(c.timestep_spacing, "trailing");
});
