import { instantiateKernel } from "./wasm-kernel.js";

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

/** Latent values compared to catch a caller that changed the latent between steps. */
const CHECKED_VALUES = 64;

/**
 * The memory of the last finished run, kept for the next run of the same layout: a fresh memory's first
 * touch (page faults on every buffer) costs more than a run's first steps themselves, about 50 ms for
 * Wan's 480p latent here. One spare at most (59 MB at 480p); a run of another layout replaces it.
 */
let spare: UniPCKernel | undefined;

/**
 * A transformer batch kept in the kernel's memory (on the session thread, where the graph reads and
 * writes it in place): `batch` items of `item` floats, each the latent followed by condition channels,
 * and the graph's velocity output, `batch` latents.
 */
export interface ResidentBatch {
  batch: 1 | 2;
  item: number;
}

/** Where a run's buffers are in the kernel's memory, in floats, each a multiple of 4. */
interface Layout {
  x: number;
  /** The second batch item's copy of the latent (resident, with guidance). */
  mirror?: number;
  u: number;
  c: number;
  last: number;
  /** The history slots (newest first), then where the next model output goes. */
  slots: number[];
  floats: number;
  key: string;
}

/** Buffers of their own, padded to 4-float lanes: slots 0 latent, 1 uncond, 2 cond, 3 last sample, history. */
function localLayout(size: number, historySlots: number): Layout {
  const stride = Math.ceil(size / 4) * 4;
  const slots = Array.from({ length: historySlots + 1 }, (_, k) => (4 + k) * stride);
  return { x: 0, u: stride, c: 2 * stride, last: 3 * stride, slots, floats: (5 + historySlots) * stride, key: `local:${size}:${historySlots}` };
}

/** The graph's input batch first ([x | condition | mirror | condition]), its output [u | c] next, then the state. */
function residentLayout(size: number, historySlots: number, { batch, item }: ResidentBatch): Layout {
  if (size % 4 !== 0 || item % 4 !== 0) throw new RangeError(`a resident batch needs whole 4-float lanes (latent ${size}, item ${item})`);
  const u = batch * item;
  const last = u + batch * size;
  const slots = Array.from({ length: historySlots + 1 }, (_, k) => last + (1 + k) * size);
  return {
    x: 0, ...(batch === 2 ? { mirror: item } : {}), u, c: batch === 2 ? u + size : u, last, slots,
    floats: last + (historySlots + 2) * size, key: `resident:${size}:${historySlots}:${batch}:${item}`,
  };
}

/**
 * The UniPC state of one run in WebAssembly memory (the latent, the two velocities, the corrector's
 * last sample, the model outputs of the last steps), updated by the SIMD kernel. With a local layout
 * the latent and velocities are copied in and out at each step; with a resident one (`ResidentBatch`)
 * they are the transformer's own input and output, and nothing is copied.
 */
export class UniPCKernel {
  private readonly exports: KernelExports;
  private readonly floats: Float32Array;
  /** Model-output slots, newest first. */
  private history: number[];
  /** Where this step's model output goes; afterwards it is the newest and the oldest slot is reused. */
  private fresh: number;
  /** Whether the latent slot holds what the last step gave the caller, so it need not be copied in again. */
  private holdsLatent = false;

  /** A kernel for a new run: the spare one when its layout fits, its state cleared; else a new one. */
  static take(size: number, historySlots: number, resident?: ResidentBatch): UniPCKernel {
    const layout = resident ? residentLayout(size, historySlots, resident) : localLayout(size, historySlots);
    const s = spare;
    spare = undefined;
    if (s?.layout.key !== layout.key) return new UniPCKernel(size, layout);
    s.reset();
    return s;
  }

  /** The run is over: its memory becomes the spare for the next run. */
  retire(): void {
    spare = this;
  }

  private constructor(
    readonly size: number,
    private readonly layout: Layout,
  ) {
    const url = new URL("./unipc-kernel.wasm", import.meta.url);
    this.exports = instantiateKernel<KernelExports>(url, layout.floats * 4, `a UniPC state of ${size} values a buffer`);
    this.floats = new Float32Array(this.exports.memory.buffer);
    this.history = layout.slots.slice(0, -1);
    this.fresh = layout.slots.at(-1)!;
  }

  private reset(): void {
    this.history = this.layout.slots.slice(0, -1);
    this.fresh = this.layout.slots.at(-1)!;
    this.holdsLatent = false;
    // Terms a step does not use still read their buffers with coefficient 0: stale values must be zeros.
    this.floats.fill(0, this.layout.last);
  }

  private view(at: number, length = this.size): Float32Array {
    return this.floats.subarray(at, at + length);
  }

  /** Resident: the transformer's input batch, where the latent lives between steps. */
  get batchInput(): Float32Array {
    return this.view(0, this.layout.u);
  }

  /** Resident: where the transformer writes its velocities, [uncond | cond] with guidance. */
  get batchOutput(): Float32Array {
    return this.view(this.layout.u, this.layout.last - this.layout.u);
  }

  /** The latent as the last step left it. */
  get latent(): Float32Array {
    return this.view(this.layout.x);
  }

  /**
   * Copies the velocities in (`cond` omitted without guidance) and, at the first step, the latent; runs
   * the update, copies the new latent to `x` (and `mirror`) and makes this step's model output the newest
   * in the history. After the first step `x` must be what the last step left in it (sampler.ts).
   */
  step(x: Float32Array, uncond: Float32Array, cond: Float32Array | undefined, s: StepScalars, mirror?: Float32Array): void {
    if (this.holdsLatent) this.checkUnchanged(x);
    else this.view(this.layout.x).set(x);
    this.view(this.layout.u).set(uncond);
    if (cond) this.view(this.layout.c).set(cond);
    this.update(s, cond !== undefined);
    const next = this.view(this.layout.x);
    x.set(next);
    mirror?.set(next);
    this.holdsLatent = true;
  }

  /** Resident: the update in place, from the velocities the graph wrote; the batch's copy follows the latent. */
  stepResident(s: StepScalars): void {
    this.update(s, this.layout.c !== this.layout.u);
    const { x, mirror } = this.layout;
    if (mirror !== undefined) this.floats.copyWithin(mirror, x, x + this.size);
  }

  private update(s: StepScalars, guided: boolean): void {
    const { x, u, c, last } = this.layout;
    const h = this.history;
    const h0 = h[0]!;
    const h1 = h[1] ?? h0;
    const h2 = h[2] ?? h1;
    this.exports.step(
      x * 4, u * 4, (guided ? c : u) * 4, h0 * 4, h1 * 4, h2 * 4, last * 4, this.fresh * 4, Math.ceil(this.size / 4) * 16,
      s.sigma, s.guidance, s.cSample, s.cLast, s.cNew, s.cM0, s.c1, s.c2, s.pSample, s.pNew, s.p0, s.p1,
    );
    h.unshift(this.fresh);
    this.fresh = h.pop()!;
  }

  /** The last step's model output, UniPC's x0 estimate of the whole latent: valid until the next step. */
  lastModelOutput(): Float32Array {
    return this.view(this.history[0]!);
  }

  /** A sparse comparison: a latent changed between steps would be sampled from a stale copy. */
  private checkUnchanged(x: Float32Array): void {
    const kept = this.view(this.layout.x);
    const every = Math.max(1, Math.floor(this.size / CHECKED_VALUES));
    for (let i = 0; i < this.size; i += every) {
      const a = x[i]!;
      const b = kept[i]!;
      if (a !== b && !(a !== a && b !== b)) throw new Error(`the latent changed between sampler steps (value ${i}: ${a}, the sampler left ${b})`);
    }
  }
}
