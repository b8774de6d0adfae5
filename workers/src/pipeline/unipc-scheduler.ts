import { linspace } from "./flow-match-scheduler.js";
import type { Sampler, Velocity } from "./sampler.js";
import type { UniPCConfig } from "./unipc-config.js";
import { UniPCKernel, type StepScalars } from "../kernels/unipc-kernel.js";

export interface UniPCSchedule {
  /** steps + 1 values, float32-rounded as diffusers keeps them; the last 0 or sigma_min. */
  sigmas: Float64Array;
  /** Integer timesteps (diffusers' int64), held as floats for the transformer's input. */
  timesteps: Float32Array;
}

/** UniPCMultistepScheduler.set_timesteps on the flow-sigma path, in float64 as numpy computes it. */
export function uniPCSchedule(config: UniPCConfig, steps: number): UniPCSchedule {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const n = config.num_train_timesteps;
  const s = config.flow_shift;
  const raw = linspace(1, 1 / n, steps + 1).subarray(0, steps);
  for (let i = 0; i < steps; i++) raw[i] = (s * raw[i]!) / (1 + (s - 1) * raw[i]!);
  // diffusers keeps the first sigma off 1, where log(alpha) = log(1 - sigma) would be -inf.
  if (Math.abs(raw[0]! - 1) < 1e-6) raw[0] = raw[0]! - 1e-6;
  const sigmas = new Float64Array(steps + 1);
  const timesteps = new Float32Array(steps);
  for (let i = 0; i < steps; i++) {
    sigmas[i] = Math.fround(raw[i]!);
    // numpy float64 -> torch int64 truncates toward zero.
    timesteps[i] = Math.trunc(raw[i]! * n);
  }
  sigmas[steps] = config.final_sigmas_type === "zero" ? 0 : sigmas[steps - 1]!;
  return { sigmas, timesteps };
}

/** Flow sigmas: alpha = 1 - sigma, and lambda = log(alpha) - log(sigma), the half log-SNR. */
const lambdaOf = (sigma: number): number => Math.log(1 - sigma) - Math.log(sigma);

/** Solves a small dense system in place by Gaussian elimination with partial pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    [b[col], b[pivot]] = [b[pivot]!, b[col]!];
    for (let r = col + 1; r < n; r++) {
      const f = a[r]![col]! / a[col]![col]!;
      for (let c = col; c < n; c++) a[r]![c]! -= f * a[col]![c]!;
      b[r]! -= f * b[col]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let sum = b[r]!;
    for (let c = r + 1; c < n; c++) sum -= a[r]![c]! * x[c]!;
    x[r] = sum / a[r]![r]!;
  }
  return x;
}

/**
 * One UniP or UniC update written as a linear combination: `onSample * sample + onM0 * m0 + sum_k
 * onPrev[k] * prev[k] (+ onNew * m_t for the corrector)`. diffusers' B(h) update (predict_x0) is linear in
 * its inputs, so folding its scalars here leaves one fused pass over the latent per step.
 */
interface Coefficients {
  onSample: number;
  onM0: number;
  /** For the model outputs before m0, newest first. */
  onPrev: number[];
  /** Corrector only: the model output at the corrected point. */
  onNew: number;
}

/**
 * The scalars of diffusers' multistep_uni_p_bh_update / multistep_uni_c_bh_update. `sigmaT` is the
 * target, `sigmaS0` the point of m0, `sigmaPrev[k]` those of the older outputs (order - 1 of them).
 */
function bhCoefficients(
  sigmaT: number,
  sigmaS0: number,
  sigmaPrev: number[],
  order: number,
  solverType: "bh1" | "bh2",
  corrector: boolean,
): Coefficients {
  const alphaT = 1 - sigmaT;
  const lambdaS0 = lambdaOf(sigmaS0);
  const h = lambdaOf(sigmaT) - lambdaS0;
  const rks = sigmaPrev.map((s) => (lambdaOf(s) - lambdaS0) / h);
  rks.push(1);
  const hh = -h;
  const hPhi1 = Math.expm1(hh);
  const bH = solverType === "bh1" ? hh : Math.expm1(hh);
  const R: number[][] = [];
  const b: number[] = [];
  let hPhiK = hPhi1 / hh - 1;
  let factorial = 1;
  for (let i = 1; i <= order; i++) {
    R.push(rks.map((rk) => rk ** (i - 1)));
    b.push((hPhiK * factorial) / bH);
    factorial *= i + 1;
    hPhiK = hPhiK / hh - 1 / factorial;
  }
  let rhos: number[];
  if (corrector) rhos = order === 1 ? [0.5] : solve(R, b);
  else if (order === 1) rhos = [];
  else if (order === 2) rhos = [0.5];
  else rhos = solve(R.slice(0, -1).map((row) => row.slice(0, -1)), b.slice(0, -1));

  // x_t = sigma_t/sigma_s0 * x - alpha_t*hPhi1*m0 - alpha_t*B(h) * (sum_k rho_k (m_k - m0)/r_k [+ rho_last (m_t - m0)])
  const scale = -alphaT * bH;
  const onPrev = sigmaPrev.map((_, k) => (scale * rhos[k]!) / rks[k]!);
  const onNew = corrector ? scale * rhos[order - 1]! : 0;
  return {
    onSample: sigmaT / sigmaS0,
    onM0: -alphaT * hPhi1 - onPrev.reduce((a, c) => a + c, 0) - onNew,
    onPrev,
    onNew,
  };
}

/**
 * diffusers' UniPCMultistepScheduler (flow prediction, predict_x0, B(h) predictor and corrector) for one
 * run. The model outputs (x0 estimates) of the last `solver_order` steps and the sample before the last
 * predictor are its state, held by the SIMD kernel that runs each step's fused pass.
 */
export class UniPCSampler implements Sampler {
  readonly sigmas: Float64Array;
  readonly timesteps: Float32Array;
  private readonly config: UniPCConfig;
  private readonly steps: number;
  /** The state's memory for steps run here; a run whose kernel is elsewhere (`scalars`) has none. */
  private kernel: UniPCKernel | undefined;
  private next = 0;
  /** diffusers' lower_order_nums: how many outputs the warm-up has, up to solver_order. */
  private outputs = 0;
  /** The order of the last predictor, which the corrector of the next step repeats. */
  private lastOrder = 0;

  constructor(
    config: UniPCConfig,
    steps: number,
    readonly size: number,
  ) {
    ({ sigmas: this.sigmas, timesteps: this.timesteps } = uniPCSchedule(config, steps));
    this.config = config;
    this.steps = steps;
  }

  /** How many model outputs the state keeps: a kernel elsewhere is made with as many slots. */
  get historySlots(): number {
    return this.config.solver_order;
  }

  /** UniPC predicts data: its model output at a step is the guided x0 estimate, kept in the kernel's memory. */
  lastX0(): Float32Array {
    if (!this.kernel || this.next === 0) throw new RangeError("no UniPC step has run here yet");
    return this.kernel.lastModelOutput();
  }

  step(i: number, x: Float32Array, velocity: Velocity, mirror?: Float32Array): void {
    const n = this.size;
    const uncond = velocity.v ?? velocity.uncond;
    // Without guidance the velocity is `uncond + 0 * (uncond - uncond)`: the same pass, reading one buffer twice.
    const cond = velocity.v ? undefined : velocity.cond;
    if (x.length !== n || uncond.length !== n || (cond && cond.length !== n) || (mirror && mirror.length !== n)) {
      throw new RangeError(`latent/velocities have ${x.length}/${uncond.length}/${cond?.length ?? uncond.length} values, sampler ${n}`);
    }
    if (i > 0 && !this.kernel) throw new RangeError("this run's UniPC state is in another kernel (its steps run there)");
    const scalars = this.scalars(i, velocity.v ? 0 : velocity.guidance);
    if (i === 0) this.kernel = UniPCKernel.take(n, this.historySlots);
    this.kernel!.step(x, uncond, cond, scalars, mirror);
    if (this.next === this.steps) this.kernel!.retire();
  }

  close(): void {
    // After the last step the kernel is the spare already, and may be another run's by now.
    if (this.kernel && this.next < this.steps) this.kernel.retire();
    this.kernel = undefined;
  }

  /**
   * Step `i`'s scalars for the kernel's fused pass, advancing the multistep bookkeeping: for a kernel
   * that holds the state elsewhere (the session thread's, where the transformer's batch lives).
   */
  scalars(i: number, guidance: number): StepScalars {
    if (i !== this.next || i >= this.steps) throw new RangeError(`UniPC steps run in order: expected step ${this.next} of ${this.steps}, got ${i}`);
    const { sigmas, config } = this;

    // Corrector (UniC) of the previous predictor, with this step's model output.
    const c =
      i > 0 && this.outputs > 0 && !config.disable_corrector.includes(i - 1)
        ? bhCoefficients(
            sigmas[i]!,
            sigmas[i - 1]!,
            Array.from({ length: this.lastOrder - 1 }, (_, k) => sigmas[i - 2 - k]!),
            this.lastOrder,
            config.solver_type,
            true,
          )
        : undefined;

    // Predictor (UniP) from this step's model output and the older ones, with the warm-up and final orders.
    const wanted = config.lower_order_final ? Math.min(config.solver_order, this.steps - i) : config.solver_order;
    const order = Math.min(wanted, this.outputs + 1);
    const predicted = bhCoefficients(
      sigmas[i + 1]!,
      sigmas[i]!,
      Array.from({ length: order - 1 }, (_, k) => sigmas[i - 1 - k]!),
      order,
      config.solver_type,
      false,
    );
    this.lastOrder = order;
    this.outputs = Math.min(this.outputs + 1, config.solver_order);
    this.next++;

    // Terms a step does not use get coefficient 0 (on a buffer the pass reads anyway), so one pass serves all.
    return {
      sigma: sigmas[i]!,
      guidance,
      cSample: c ? 0 : 1,
      cLast: c?.onSample ?? 0,
      cNew: c?.onNew ?? 0,
      cM0: c?.onM0 ?? 0,
      c1: c?.onPrev[0] ?? 0,
      c2: c?.onPrev[1] ?? 0,
      pSample: predicted.onSample,
      pNew: predicted.onM0,
      p0: predicted.onPrev[0] ?? 0,
      p1: predicted.onPrev[1] ?? 0,
    };
  }
}
