import ort from "onnxruntime-node";
import { flowMatchSigmas } from "./flow-match-scheduler.js";
import type { SchedulerConfig } from "./scheduler-config.js";
import { eulerStep, guidedEulerStep } from "./flow-match-scheduler.js";
import { gaussianNoise } from "./noise.js";
import { latentDims, latentSize, type LatentShape } from "./latent-shape.js";

export interface DenoiseInput {
  transformer: ort.InferenceSession;
  scheduler: SchedulerConfig;
  shape: LatentShape;
  /** [uncond, cond] when guidance is on, [cond] otherwise: as returned by encodePrompts. */
  textStates: ort.Tensor;
  steps: number;
  guidance: number;
  seed: number;
  /** Called after every step; may throw to stop (cancellation). */
  afterStep: (step: number, total: number) => Promise<void>;
}

export interface DenoiseResult {
  latent: Float32Array;
  /** Time spent inside ONNX Runtime, so benchmarks can separate the platform's own cost. */
  runtimeMs: number;
}

/** Diffusers turns guidance on only above 1: at 1 the unconditional pass changes nothing. */
export const usesGuidance = (guidance: number): boolean => guidance > 1;

/**
 * Flow-matching Euler sampling. With guidance, one batched transformer call evaluates the unconditional
 * and conditional velocities together (as diffusers does); guidance and the Euler update are one fused
 * pass over the latent, so the JS work per step is a copy and a single loop.
 */
export async function denoise(input: DenoiseInput): Promise<DenoiseResult> {
  const { shape, steps, guidance } = input;
  const guided = usesGuidance(guidance);
  const batch = guided ? 2 : 1;
  const n = latentSize(shape);
  const { sigmas, timesteps } = flowMatchSigmas(input.scheduler, steps, { imageSeqLen: shape.tokens });
  // The latent lives in the transformer's input buffer: with guidance its second half is a copy kept
  // up to date by the fused step, so no per-step copies are needed.
  const batched = new Float32Array(n * batch);
  const x = batched.subarray(0, n);
  x.set(gaussianNoise(n, input.seed));
  const mirror = guided ? batched.subarray(n) : undefined;
  mirror?.set(x);
  const hidden = new ort.Tensor("float32", batched, latentDims(shape, batch));
  const timestep = new Float32Array(batch);
  const timestepTensor = new ort.Tensor("float32", timestep, [batch]);
  const outputName = input.transformer.outputNames[0] ?? "out_hidden_states";
  let runtimeMs = 0;

  for (let i = 0; i < steps; i++) {
    const sigma = sigmas[i]!;
    const sigmaNext = sigmas[i + 1]!;
    timestep.fill(timesteps[i]!);
    const started = performance.now();
    const out = await input.transformer.run({
      hidden_states: hidden,
      timestep: timestepTensor,
      encoder_hidden_states: input.textStates,
    });
    runtimeMs += performance.now() - started;
    const v = out[outputName]?.data;
    if (!(v instanceof Float32Array) || v.length !== n * batch) {
      throw new Error(`transformer output ${outputName} must be float32 with ${n * batch} values`);
    }
    if (guided) guidedEulerStep(x, v.subarray(0, n), v.subarray(n, 2 * n), guidance, sigma, sigmaNext, mirror);
    else eulerStep(x, v, sigma, sigmaNext);
    await input.afterStep(i + 1, steps);
  }
  return { latent: x.slice(), runtimeMs };
}
