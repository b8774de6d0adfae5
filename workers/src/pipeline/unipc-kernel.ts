import { readFileSync } from "node:fs";

/** Compiled once per process; each sampler run instantiates it with a memory of its own. */
let compiled: WebAssembly.Module | undefined;
const kernelModule = (): WebAssembly.Module =>
  (compiled ??= new WebAssembly.Module(readFileSync(new URL("./unipc-kernel.wasm", import.meta.url))));

interface KernelExports {
  memory: WebAssembly.Memory;
  step(x: number, u: number, c: number, h0: number, h1: number, h2: number, last: number, m: number, bytes: number, ...coefficients: number[]): void;
}

/** One UniP/UniC update's scalars, in the kernel's argument order after the pointers. */
export interface StepScalars {
  sigma: number;
  guidance: number;
  cSample: number;
  cLast: number;
  cNew: number;
  cM0: number;
  c1: number;
  c2: number;
  pSample: number;
  pNew: number;
  p0: number;
  p1: number;
}

const PAGE = 65536;
/** Latent values compared to catch a caller that changed the latent between steps. */
const CHECKED_VALUES = 64;

/**
 * The memory of the last finished run, kept for the next run of the same size: a fresh memory's first
 * touch (page faults on every buffer) costs more than a run's first steps themselves, about 50 ms for
 * Wan's 480p latent here. One spare at most (59 MB at 480p); a run of another size replaces it.
 */
let spare: UniPCKernel | undefined;

/**
 * The UniPC state of one run in WebAssembly memory (the latent, the two velocities, the corrector's
 * last sample, the model outputs of the last steps), updated by the SIMD kernel. Buffers are padded
 * to whole 4-float lanes; the padding is never read back.
 */
export class UniPCKernel {
  private readonly exports: KernelExports;
  private readonly floats: Float32Array;
  private readonly stride: number;
  /** Buffers 0 latent, 1 uncond, 2 cond, 3 last sample; then the model-output history slots, newest first. */
  private readonly history: number[];
  /** Where this step's model output goes; afterwards it is the newest and the oldest slot is reused. */
  private fresh: number;
  /** Whether slot 0 holds the latent the last step gave the caller, so it need not be copied in again. */
  private holdsLatent = false;

  /** A kernel for a new run: the spare one when it fits, its state cleared; else a new one. */
  static take(size: number, historySlots: number): UniPCKernel {
    const s = spare;
    spare = undefined;
    if (s?.size !== size || s.history.length !== historySlots) return new UniPCKernel(size, historySlots);
    s.history.forEach((_, k) => (s.history[k] = 4 + k));
    s.fresh = 4 + historySlots;
    s.holdsLatent = false;
    // Terms a step does not use still read their buffers with coefficient 0: stale values must be zeros.
    s.floats.fill(0, 3 * s.stride);
    return s;
  }

  /** The run is over: its memory becomes the spare for the next run. */
  retire(): void {
    spare = this;
  }

  private constructor(
    readonly size: number,
    historySlots: number,
  ) {
    this.stride = Math.ceil(size / 4) * 4;
    this.history = Array.from({ length: historySlots }, (_, k) => 4 + k);
    this.fresh = 4 + historySlots;
    const bytes = (this.fresh + 1) * this.stride * 4;
    if (bytes > 2 ** 32 - PAGE) throw new RangeError(`a UniPC state of ${size} values a buffer does not fit a 4 GiB WebAssembly memory`);
    this.exports = new WebAssembly.Instance(kernelModule()).exports as unknown as KernelExports;
    this.exports.memory.grow(Math.ceil(bytes / PAGE));
    this.floats = new Float32Array(this.exports.memory.buffer);
  }

  private view(slot: number): Float32Array {
    return this.floats.subarray(slot * this.stride, slot * this.stride + this.size);
  }

  /**
   * Copies the velocities in (`cond` omitted without guidance) and, at the first step, the latent; runs
   * the update, copies the new latent to `x` (and `mirror`) and makes this step's model output the newest
   * in the history. After the first step `x` must be what the last step left in it (sampler.ts).
   */
  step(x: Float32Array, uncond: Float32Array, cond: Float32Array | undefined, s: StepScalars, mirror?: Float32Array): void {
    const at = (slot: number) => slot * this.stride * 4;
    if (this.holdsLatent) this.checkUnchanged(x);
    else this.view(0).set(x);
    this.view(1).set(uncond);
    if (cond) this.view(2).set(cond);
    const h = this.history;
    const h0 = h[0]!;
    const h1 = h[1] ?? h0;
    const h2 = h[2] ?? h1;
    this.exports.step(
      at(0), at(1), at(cond ? 2 : 1), at(h0), at(h1), at(h2), at(3), at(this.fresh), this.stride * 4,
      s.sigma, s.guidance, s.cSample, s.cLast, s.cNew, s.cM0, s.c1, s.c2, s.pSample, s.pNew, s.p0, s.p1,
    );
    const next = this.view(0);
    x.set(next);
    mirror?.set(next);
    h.unshift(this.fresh);
    this.fresh = h.pop()!;
    this.holdsLatent = true;
  }

  /** The last step's model output, UniPC's x0 estimate of the whole latent: valid until the next step. */
  lastModelOutput(): Float32Array {
    return this.view(this.history[0]!);
  }

  /** A sparse comparison: a latent changed between steps would be sampled from a stale copy. */
  private checkUnchanged(x: Float32Array): void {
    const kept = this.view(0);
    const every = Math.max(1, Math.floor(this.size / CHECKED_VALUES));
    for (let i = 0; i < this.size; i += every) {
      const a = x[i]!;
      const b = kept[i]!;
      if (a !== b && !(a !== a && b !== b)) throw new Error(`the latent changed between sampler steps (value ${i}: ${a}, the sampler left ${b})`);
    }
  }
}
