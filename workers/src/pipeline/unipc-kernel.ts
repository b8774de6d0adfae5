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

  constructor(
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
   * Copies the latent and the velocities in (`cond` omitted without guidance), runs the update, copies
   * the new latent to `x` (and `mirror`) and makes this step's model output the newest in the history.
   */
  step(x: Float32Array, uncond: Float32Array, cond: Float32Array | undefined, s: StepScalars, mirror?: Float32Array): void {
    const at = (slot: number) => slot * this.stride * 4;
    this.view(0).set(x);
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
  }
}
