/**
 * LTX2Pipeline's guidance in x0 space for one modality (video or audio) at one step. Each pass's velocity
 * becomes an x0 estimate, `x0 = x - sigma * v`; the deltas are added to the conditional estimate
 *
 *   g = c + (guidance - 1)(c - uncond) + stg (c - perturbed) + (modality - 1)(c - isolated)
 *
 * (each term only when its pass ran), `rescale_noise_cfg` mixes in g rescaled to the conditional
 * estimate's standard deviation, and the result goes back to a velocity `(x - g) / sigma` for the Euler step.
 */

export interface X0Passes {
  /** Velocities of the passes that ran: the conditional one always. */
  cond: Float32Array;
  uncond?: Float32Array;
  /** Spatio-temporal guidance: the pass with the export's blocks perturbed. */
  perturbed?: Float32Array;
  /** Modality isolation: the pass with audio-video cross attention off. */
  isolated?: Float32Array;
}

export interface X0Scales {
  guidance: number;
  stg: number;
  modality: number;
  rescale: number;
}

/** Writes the guided velocity into `out` (may be one of the pass buffers). */
export function guidedVelocity(x: Float32Array, sigma: number, passes: X0Passes, scales: X0Scales, out: Float32Array): void {
  const n = x.length;
  for (const v of [passes.cond, passes.uncond, passes.perturbed, passes.isolated, out]) {
    if (v && v.length !== n) throw new RangeError(`a velocity has ${v.length} values, the latent ${n}`);
  }
  const { cond } = passes;
  // c - x0(other) = sigma (v_other - v_cond): the x terms cancel. A pass that did not run reads the
  // conditional velocity with a zero weight, so the loop has no branches.
  const [u, p, m] = [passes.uncond ?? cond, passes.perturbed ?? cond, passes.isolated ?? cond];
  const ku = passes.uncond ? scales.guidance - 1 : 0;
  const kp = passes.perturbed ? scales.stg : 0;
  const km = passes.isolated ? scales.modality - 1 : 0;
  const kc = ku + kp + km;
  // Sums for the two standard deviations rescale compares (torch.std's N - 1 cancels in their ratio).
  let sumC = 0, sumC2 = 0, sumG = 0, sumG2 = 0;
  for (let i = 0; i < n; i++) {
    const vc = cond[i]!;
    const c = x[i]! - sigma * vc;
    const g = c + sigma * (ku * u[i]! + kp * p[i]! + km * m[i]! - kc * vc);
    sumC += c; sumC2 += c * c; sumG += g; sumG2 += g * g;
    out[i] = g;
  }
  let k = 1;
  if (scales.rescale > 0) {
    const stdC = Math.sqrt(Math.max(0, sumC2 - (sumC * sumC) / n));
    const stdG = Math.sqrt(Math.max(0, sumG2 - (sumG * sumG) / n));
    // A constant estimate has no spread to match; diffusers would divide by zero there.
    if (stdG > 0) k = scales.rescale * (stdC / stdG) + (1 - scales.rescale);
  }
  for (let i = 0; i < n; i++) out[i] = (x[i]! - k * out[i]!) / sigma;
}
