import { FlowMatchEulerSampler } from "./flow-match-scheduler.js";
import type { SchedulerConfig } from "./scheduler-config.js";
import { UniPCSampler } from "./unipc-scheduler.js";

/** The model's velocity at a step: one pass, or guidance's unconditional and conditional passes. */
export type Velocity =
  | { v: Float32Array; uncond?: never; cond?: never }
  | { v?: never; uncond: Float32Array; cond: Float32Array; guidance: number };

/**
 * One sampling run of a diffusers scheduler. A sampler holds that run's state (a multistep solver's
 * previous model outputs), so each job makes its own and calls `step` once per step, in order.
 */
export interface Sampler {
  /** steps + 1 noise levels, the last the final one (0 unless the config says otherwise). */
  readonly sigmas: Float64Array;
  /** What the transformer is conditioned on at each step, as the scheduler gives it. */
  readonly timesteps: Float32Array;
  /**
   * Advances the latent `x` in place by step `i` given the model's velocity there; with guidance it is
   * `uncond + guidance * (cond - uncond)`, fused into the update. `mirror` also receives the new latent.
   * Between steps `x` holds what the last step left (it may be another view of the same values): a
   * sampler may keep its own copy of the latent rather than read it again.
   */
  step(i: number, x: Float32Array, velocity: Velocity, mirror?: Float32Array): void;
  /**
   * The whole latent's x0 estimate at the last step (`x - sigma * v` with the guided v), where the sampler
   * computes one anyway (a data-prediction solver); valid until its next step.
   */
  lastX0?(): Float32Array;
  /** Ends a run that stopped before its last step (a cancelled job), so its memory serves the next run. */
  close?(): void;
}

export interface SamplerRun {
  steps: number;
  /** Latent values per batch item: a multistep sampler's history buffers have this size. */
  size: number;
  /** Transformer tokens, for a dynamically shifted schedule. */
  imageSeqLen: number;
}

/** A fresh sampler, and so a fresh multistep state, for one run. */
export function createSampler(config: SchedulerConfig, run: SamplerRun): Sampler {
  switch (config._class_name) {
    case "FlowMatchEulerDiscreteScheduler":
      return new FlowMatchEulerSampler(config, run.steps, run.imageSeqLen);
    case "UniPCMultistepScheduler":
      return new UniPCSampler(config, run.steps, run.size);
  }
}
