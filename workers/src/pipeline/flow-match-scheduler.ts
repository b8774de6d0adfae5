import type { FlowMatchConfig } from "./flow-match-config.js";
import type { Sampler, Velocity } from "./sampler.js";

export interface FlowMatchSchedule {
  /** steps + 1 values, decreasing, the last one 0. */
  sigmas: Float64Array;
  /** steps values: sigma * num_train_timesteps, what the transformer is conditioned on. */
  timesteps: Float32Array;
}

const f32 = Math.fround;

/** Resolution-dependent shift (diffusers' `calculate_shift`): mu linear in the token count. */
export function calculateShift(
  imageSeqLen: number,
  baseSeqLen: number,
  maxSeqLen: number,
  baseShift: number,
  maxShift: number,
): number {
  const m = (maxShift - baseShift) / (maxSeqLen - baseSeqLen);
  const b = baseShift - m * baseSeqLen;
  return imageSeqLen * m + b;
}

/**
 * diffusers builds its training schedule in float32 at init and, without dynamic shifting, already
 * shifts it there; set_timesteps then spans [sigma_max, sigma_min] of that schedule and shifts again.
 * Reproducing the float32 rounding keeps sigma_min (hence the last timestep) identical to diffusers.
 */
function trainingSigma(config: FlowMatchConfig, t: number): number {
  const sigma = f32(t / config.num_train_timesteps);
  if (config.use_dynamic_shifting) return sigma;
  const s = f32(config.shift);
  return f32(f32(s * sigma) / f32(1 + f32(f32(config.shift - 1) * sigma)));
}

/** numpy.linspace(start, stop, num): `i * step + start`, with the endpoint written exactly. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/**
 * set_timesteps with the caller's own sigmas (LTX2Pipeline passes `linspace(1, 1/N, N)`): diffusers casts
 * them to a float32 numpy array, so the shift and the terminal stretch run in float32 arithmetic.
 */
function customSigmaSchedule(config: FlowMatchConfig, custom: ArrayLike<number>, imageSeqLen: number): FlowMatchSchedule {
  const steps = custom.length;
  const raw = Float32Array.from(custom);
  let shiftSigma: (t: number) => number;
  if (config.use_dynamic_shifting) {
    const mu = calculateShift(imageSeqLen, config.base_image_seq_len, config.max_image_seq_len, config.base_shift, config.max_shift);
    // A Python float meets a float32 array: it is rounded to float32 and the operation runs in float32.
    const top = f32(config.time_shift_type === "linear" ? mu : Math.exp(mu));
    shiftSigma = (t) => f32(top / f32(top + f32(f32(1 / t) - 1)));
  } else {
    const s = f32(config.shift);
    shiftSigma = (t) => f32(f32(s * t) / f32(1 + f32(f32(config.shift - 1) * t)));
  }
  for (let i = 0; i < steps; i++) raw[i] = shiftSigma(raw[i]!);
  if (config.shift_terminal && raw[steps - 1]! < 1) {
    const scale = f32(f32(1 - raw[steps - 1]!) / f32(1 - config.shift_terminal));
    for (let i = 0; i < steps; i++) raw[i] = f32(1 - f32(f32(1 - raw[i]!) / scale));
  }
  const sigmas = new Float64Array(steps + 1);
  const timesteps = new Float32Array(steps);
  for (let i = 0; i < steps; i++) {
    sigmas[i] = raw[i]!;
    timesteps[i] = raw[i]! * config.num_train_timesteps;
  }
  return { sigmas, timesteps };
}

/**
 * FlowMatchEulerDiscreteScheduler.set_timesteps as diffusers computes it: the default sigma path, or the
 * caller's `sigmas` (then `steps` must be their count).
 */
export function flowMatchSigmas(
  config: FlowMatchConfig,
  steps: number,
  { imageSeqLen, sigmas: custom }: { imageSeqLen: number; sigmas?: ArrayLike<number> },
): FlowMatchSchedule {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  if (custom) {
    if (custom.length !== steps) throw new RangeError(`${custom.length} sigmas given for ${steps} steps`);
    return customSigmaSchedule(config, custom, imageSeqLen);
  }
  const n = config.num_train_timesteps;
  const sigmaMax = trainingSigma(config, n);
  const sigmaMin = trainingSigma(config, 1);
  const raw = linspace(sigmaMax * n, sigmaMin * n, steps);
  for (let i = 0; i < steps; i++) raw[i] = raw[i]! / n;

  let shiftSigma: (t: number) => number;
  if (config.use_dynamic_shifting) {
    const mu = calculateShift(
      imageSeqLen,
      config.base_image_seq_len,
      config.max_image_seq_len,
      config.base_shift,
      config.max_shift,
    );
    const expMu = Math.exp(mu);
    // time_shift(mu, sigma=1.0, t): the power is 1, so it is left out.
    shiftSigma =
      config.time_shift_type === "linear" ? (t) => mu / (mu + (1 / t - 1)) : (t) => expMu / (expMu + (1 / t - 1));
  } else {
    const s = config.shift;
    shiftSigma = (t) => (s * t) / (1 + (s - 1) * t);
  }
  for (let i = 0; i < steps; i++) raw[i] = shiftSigma(raw[i]!);

  // Truthiness as in diffusers: 0 and null both mean "no stretch". With one step the only sigma is 1 and
  // diffusers' stretch divides 0 by 0 (NaN); a single step from pure noise is left as it is instead.
  if (config.shift_terminal && raw[steps - 1]! < 1) {
    const scale = (1 - raw[steps - 1]!) / (1 - config.shift_terminal);
    for (let i = 0; i < steps; i++) raw[i] = 1 - (1 - raw[i]!) / scale;
  }

  // diffusers keeps sigmas and timesteps as float32 tensors; the appended final sigma is 0.
  const sigmas = new Float64Array(steps + 1);
  const timesteps = new Float32Array(steps);
  for (let i = 0; i < steps; i++) {
    sigmas[i] = f32(raw[i]!);
    timesteps[i] = sigmas[i]! * n;
  }
  return { sigmas, timesteps };
}

/** In place: x += (sigmaNext - sigma) * v. */
export function eulerStep(x: Float32Array, v: Float32Array, sigma: number, sigmaNext: number): void {
  if (v.length !== x.length) throw new RangeError(`velocity has ${v.length} values, latent ${x.length}`);
  const dt = sigmaNext - sigma;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + dt * v[i]!;
}

/**
 * Classifier-free guidance fused into the Euler update: one pass, no temporary velocity buffer. With
 * `mirror`, the new latent is also written there (the second half of the next batched input), saving
 * a separate copy pass.
 */
export function guidedEulerStep(
  x: Float32Array,
  vUncond: Float32Array,
  vCond: Float32Array,
  guidance: number,
  sigma: number,
  sigmaNext: number,
  mirror?: Float32Array,
): void {
  if (vUncond.length !== x.length || vCond.length !== x.length || (mirror && mirror.length !== x.length)) {
    throw new RangeError(`velocities have ${vUncond.length}/${vCond.length} values, latent ${x.length}`);
  }
  const dt = sigmaNext - sigma;
  if (!mirror) {
    for (let i = 0; i < x.length; i++) {
      const u = vUncond[i]!;
      x[i] = x[i]! + dt * (u + guidance * (vCond[i]! - u));
    }
    return;
  }
  for (let i = 0; i < x.length; i++) {
    const u = vUncond[i]!;
    const next = x[i]! + dt * (u + guidance * (vCond[i]! - u));
    x[i] = next;
    mirror[i] = next;
  }
}

/** diffusers' FlowMatchEulerDiscreteScheduler for one run: stateless beyond the schedule. */
export class FlowMatchEulerSampler implements Sampler {
  readonly sigmas: Float64Array;
  readonly timesteps: Float32Array;

  constructor(config: FlowMatchConfig, steps: number, imageSeqLen: number, sigmas?: ArrayLike<number>) {
    ({ sigmas: this.sigmas, timesteps: this.timesteps } = flowMatchSigmas(config, steps, { imageSeqLen, sigmas }));
  }

  step(i: number, x: Float32Array, velocity: Velocity, mirror?: Float32Array): void {
    const sigma = this.sigmas[i]!;
    const sigmaNext = this.sigmas[i + 1]!;
    if (velocity.v) {
      eulerStep(x, velocity.v, sigma, sigmaNext);
      mirror?.set(x);
    } else guidedEulerStep(x, velocity.uncond, velocity.cond, velocity.guidance, sigma, sigmaNext, mirror);
  }
}
