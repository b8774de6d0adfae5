import ort from "onnxruntime-node";
import { GraphBoundary } from "../onnx/graph-boundary.js";
import type { SchedulerConfig } from "./scheduler-config.js";
import { createSampler } from "./sampler.js";
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
  /** The transformer's velocity output, as the family's contract names it. */
  outputName: string;
}

export interface DenoiseResult {
  latent: Float32Array;
  /** Time spent inside ONNX Runtime, so benchmarks can separate the platform's own cost. */
  runtimeMs: number;
}

/**
 * The `timestep` input, one value per batch item, in the graph's own type: exports take the scheduler's
 * timesteps as float or as int64 (UniPC's are integers already, so nothing is rounded away).
 */
function timestepFeed(transformer: ort.InferenceSession, batch: number): { tensor: ort.Tensor; set(t: number): void } {
  const meta = transformer.inputMetadata.find((m) => m.name === "timestep");
  if (meta?.isTensor && meta.type === "int64") {
    const data = new BigInt64Array(batch);
    return { tensor: new ort.Tensor("int64", data, [batch]), set: (t) => data.fill(BigInt(Math.trunc(t))) };
  }
  const data = new Float32Array(batch);
  return { tensor: new ort.Tensor("float32", data, [batch]), set: (t) => data.fill(t) };
}

/** Diffusers turns guidance on only above 1: at 1 the unconditional pass changes nothing. */
export const usesGuidance = (guidance: number): boolean => guidance > 1;

/**
 * Sampling with the model's scheduler (a fresh sampler, so a fresh multistep state, per run). With
 * guidance, one batched transformer call evaluates the unconditional and conditional velocities together
 * (as diffusers does); guidance and the sampler's update are one fused pass over the latent. The latent
 * stays float32; a float16 transformer gets its inputs converted at the graph boundary.
 */
export async function denoise(input: DenoiseInput): Promise<DenoiseResult> {
  const { shape, steps, guidance } = input;
  const guided = usesGuidance(guidance);
  const batch = guided ? 2 : 1;
  const n = latentSize(shape);
  const sampler = createSampler(input.scheduler, { steps, size: n, imageSeqLen: shape.tokens });
  const transformer = new GraphBoundary(input.transformer);
  // Text states are the same every step: converted to the graph's type once.
  const textStates = transformer.toInput("encoder_hidden_states", input.textStates);
  // The latent lives in the transformer's input buffer: with guidance its second half is a copy kept
  // up to date by the fused step, so no per-step copies are needed.
  const batched = new Float32Array(n * batch);
  const x = batched.subarray(0, n);
  x.set(gaussianNoise(n, input.seed));
  const mirror = guided ? batched.subarray(n) : undefined;
  mirror?.set(x);
  const hidden = new ort.Tensor("float32", batched, latentDims(shape, batch));
  const timestep = timestepFeed(input.transformer, batch);
  const { outputName } = input;
  let runtimeMs = 0;

  for (let i = 0; i < steps; i++) {
    timestep.set(sampler.timesteps[i]!);
    const started = performance.now();
    const out = await transformer.run({
      hidden_states: hidden,
      timestep: timestep.tensor,
      encoder_hidden_states: textStates,
    });
    runtimeMs += performance.now() - started;
    const v = out[outputName]?.data;
    if (!(v instanceof Float32Array) || v.length !== n * batch) {
      throw new Error(`transformer output ${outputName} must be float32 or float16 with ${n * batch} values`);
    }
    sampler.step(i, x, guided ? { uncond: v.subarray(0, n), cond: v.subarray(n, 2 * n), guidance } : { v }, mirror);
    await input.afterStep(i + 1, steps);
  }
  return { latent: x.slice(), runtimeMs };
}
