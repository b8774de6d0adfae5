import { instantiateKernel } from "../../kernels/wasm-kernel.js";

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

interface KernelExports {
  memory: WebAssembly.Memory;
  guide(x: number, vc: number, u: number, p: number, m: number, out: number, bytes: number, sums: number, sigma: number, ku: number, kp: number, km: number, kc: number): void;
  finish(x: number, out: number, next: number, bytes: number, k: number, sigma: number, dt: number): void;
}

/** The buffers' order in the kernel's memory (out: g, then the velocity); the four f64 sums follow them. */
const SLOTS = ["x", "cond", "uncond", "perturbed", "isolated", "out", "next"] as const;

/**
 * One modality's guided step over a latent of `size` values in the SIMD kernel (guidance.wat): the
 * guidance, then the Euler step of its FlowMatchEulerDiscreteScheduler, with a memory of its own for a
 * run. Each step copies the latent and the passes' velocities in and the new latent out (copies are a
 * small part of the loops they replace).
 */
export class X0Guidance {
  private readonly kernel: KernelExports;
  private readonly floats: Float32Array;
  private readonly sums: Float64Array;
  /** Each buffer's length, padded to whole 4-float lanes. */
  private readonly stride: number;

  constructor(readonly size: number) {
    this.stride = Math.ceil(size / 4) * 4;
    const sumsAt = SLOTS.length * this.stride * 4;
    this.kernel = instantiateKernel<KernelExports>(new URL("./guidance.wasm", import.meta.url), sumsAt + 32, `LTX-2's guidance over ${size} values`);
    this.floats = new Float32Array(this.kernel.memory.buffer);
    this.sums = new Float64Array(this.kernel.memory.buffer, sumsAt, 4);
  }

  private at(slot: (typeof SLOTS)[number]): number {
    return SLOTS.indexOf(slot) * this.stride;
  }

  private view(slot: (typeof SLOTS)[number]): Float32Array {
    return this.floats.subarray(this.at(slot), this.at(slot) + this.size);
  }

  /**
   * Moves `x` from `sigma` to `sigmaNext` along the guided velocity. Returns the latent it started from
   * and that velocity, views valid until the next step.
   */
  step(x: Float32Array, sigma: number, sigmaNext: number, passes: X0Passes, scales: X0Scales): { before: Float32Array; velocity: Float32Array } {
    const n = this.size;
    for (const v of [x, passes.cond, passes.uncond, passes.perturbed, passes.isolated]) {
      if (v && v.length !== n) throw new RangeError(`a latent or velocity has ${v.length} values, the guidance ${n}`);
    }
    // c - x0(other) = sigma (v_other - v_cond): the x terms cancel. A pass that did not run reads the
    // conditional velocity with a zero weight, so the kernel has no branches.
    const ptr = (slot: (typeof SLOTS)[number], v: Float32Array | undefined): number => {
      if (!v) return this.at("cond") * 4;
      this.floats.set(v, this.at(slot));
      return this.at(slot) * 4;
    };
    const ku = passes.uncond ? scales.guidance - 1 : 0;
    const kp = passes.perturbed ? scales.stg : 0;
    const km = passes.isolated ? scales.modality - 1 : 0;
    const [px, pc] = [ptr("x", x), ptr("cond", passes.cond)];
    const [pu, pp, pm] = [ptr("uncond", passes.uncond), ptr("perturbed", passes.perturbed), ptr("isolated", passes.isolated)];
    const po = this.at("out") * 4;
    const bytes = this.stride * 4;
    this.kernel.guide(px, pc, pu, pp, pm, po, bytes, this.sums.byteOffset, sigma, ku, kp, km, ku + kp + km);
    let k = 1;
    if (scales.rescale > 0) {
      // The two standard deviations rescale compares (torch.std's N - 1 cancels in their ratio).
      const [sumC, sumC2, sumG, sumG2] = this.sums as unknown as [number, number, number, number];
      const stdC = Math.sqrt(Math.max(0, sumC2 - (sumC * sumC) / n));
      const stdG = Math.sqrt(Math.max(0, sumG2 - (sumG * sumG) / n));
      // A constant estimate has no spread to match; diffusers would divide by zero there.
      if (stdG > 0) k = scales.rescale * (stdC / stdG) + (1 - scales.rescale);
    }
    this.kernel.finish(px, po, this.at("next") * 4, bytes, k, sigma, sigmaNext - sigma);
    x.set(this.view("next"));
    return { before: this.view("x"), velocity: this.view("out") };
  }
}
