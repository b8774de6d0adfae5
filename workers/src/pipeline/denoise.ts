import ort from "onnxruntime-node";
import { frameX0, previewFrameOf, previewLatentFrame, type FrameTerm } from "../kernels/frame-x0.js";
import type { PreviewSink } from "../preview/preview-sink.js";
import type { SchedulerConfig } from "./scheduler-config.js";
import { createSampler, type Sampler } from "./sampler.js";
import { UniPCSampler } from "./unipc-scheduler.js";
import { fillGaussian } from "./noise.js";
import { latentDims, latentSize, type LatentShape } from "./latent-shape.js";
import { LentTensor, type HeldTensor, type ModelSession } from "../onnx/session-thread.js";

export interface DenoiseInput {
  transformer: ModelSession;
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
  /**
   * Channels fed after the latent's own in `hidden_states`, the same every step and for every batch item
   * (Wan I2V: 4 mask + 16 image-latent channels), laid out [C_cond, F, H, W] on the latent's grid.
   */
  condition?: Float32Array;
  /** More transformer inputs, the same every step, already batched (Wan I2V: encoder_hidden_states_image). */
  extraInputs?: Record<string, ort.Tensor>;
  /** Takes the middle latent frame's x0 estimate at the steps it wants. */
  preview?: PreviewSink;
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
function timestepFeed(transformer: ModelSession, batch: number): { tensor: ort.Tensor; set(t: number): void } {
  const meta = transformer.inputMetadata.find((m) => m.name === "timestep");
  if (meta?.isTensor && meta.type === "int64") {
    const data = new BigInt64Array(batch);
    return { tensor: new ort.Tensor("int64", data, [batch]), set: (t) => data.fill(BigInt(Math.trunc(t))) };
  }
  const data = new Float32Array(batch);
  return { tensor: new ort.Tensor("float32", data, [batch]), set: (t) => data.fill(t) };
}

/**
 * The middle latent frame's x0 = x - sigma * v before the step moves x, v the guided velocity
 * `uncond + g (cond - uncond)` when `guidance` is given (`velocities` then holds [uncond, cond]).
 */
function previewX0(shape: LatentShape, x: Float32Array, velocities: Float32Array, sigma: number, guidance: number | undefined): Float32Array {
  const plane = shape.height * shape.width;
  const frame = previewLatentFrame(shape.frames);
  const at = (c: number) => (c * shape.frames + frame) * plane;
  const n = x.length;
  const terms: FrameTerm[] = [{ data: x, weight: 1, offset: at }];
  if (guidance === undefined) terms.push({ data: velocities, weight: -sigma, offset: at });
  else {
    terms.push({ data: velocities, weight: -sigma * (1 - guidance), offset: at });
    terms.push({ data: velocities, weight: -sigma * guidance, offset: (c) => n + at(c) });
  }
  return frameX0(shape.channels, plane, 1, terms);
}

/** Diffusers turns guidance on only above 1: at 1 the unconditional pass changes nothing. */
export const usesGuidance = (guidance: number): boolean => guidance > 1;

/**
 * Sampling with the model's scheduler (a fresh sampler, so a fresh multistep state, per run). With
 * guidance, one batched transformer call evaluates the unconditional and conditional velocities together
 * (as diffusers does); guidance and the sampler's update are one fused pass over the latent. The latent
 * stays float32; a float16 transformer converts at its boundary, in its own graph (boundary-casts.ts).
 */
export async function denoise(input: DenoiseInput): Promise<DenoiseResult> {
  const { shape, steps, guidance, transformer } = input;
  const guided = usesGuidance(guidance);
  const batch = guided ? 2 : 1;
  const n = latentSize(shape);
  const sampler = createSampler(input.scheduler, { steps, size: n, imageSeqLen: shape.tokens });
  // The latent lives in the transformer's input buffer: with guidance the second item's latent is a copy
  // kept up to date by the fused step, so no per-step copies are needed. A condition follows each latent.
  const condition = input.condition ?? new Float32Array(0);
  const plane = n / shape.channels;
  if (condition.length % plane !== 0) throw new Error(`the condition has ${condition.length} values, not whole channels of ${plane}`);
  const item = n + condition.length;
  // Moved to the session thread for each forward and back, not copied: views are taken again after it.
  const hidden = new LentTensor(new Float32Array(item * batch), latentDims({ ...shape, channels: shape.channels + condition.length / plane }, batch));
  fillGaussian(hidden.data.subarray(0, n), input.seed);
  hidden.data.set(condition, n);
  if (guided) hidden.data.copyWithin(item, 0, item);
  const timestep = timestepFeed(transformer, batch);
  const { outputName } = input;
  const runtimeBefore = transformer.runtimeMs;
  // Text states and extra inputs are the same every step: held on the session thread, sent once.
  const held = Object.fromEntries(
    await Promise.all([["encoder_hidden_states", input.textStates] as const, ...Object.entries(input.extraInputs ?? {})].map(async ([name, t]) => [name, await transformer.hold(name, t)] as const)),
  );
  try {
    // UniPC over whole 4-float lanes samples where the transformer runs: the batch stays in its kernel's
    // memory on the session thread, fed and written in place, so no latent-sized buffer crosses or is copied.
    const onThread = sampler instanceof UniPCSampler && n % 4 === 0 && item % 4 === 0;
    const latent = onThread
      ? await denoiseOnThread(input, sampler, hidden, held, timestep, item)
      : await denoiseHere(input, sampler, hidden, held, timestep, item);
    return { latent, runtimeMs: transformer.runtimeMs - runtimeBefore };
  } finally {
    await Promise.all(Object.values(held).map((h) => h.release()));
  }
}

type Feed = ReturnType<typeof timestepFeed>;

/** The loop with the latent on this thread: lent to the session thread for each forward, stepped here. */
async function denoiseHere(input: DenoiseInput, sampler: Sampler, hidden: LentTensor, held: Record<string, HeldTensor>, timestep: Feed, item: number): Promise<Float32Array> {
  const { shape, steps, guidance, transformer, outputName } = input;
  const guided = usesGuidance(guidance);
  const n = latentSize(shape);
  const views = () => ({ x: hidden.data.subarray(0, n), mirror: guided ? hidden.data.subarray(item, item + n) : undefined });
  // The velocities are written into one buffer lent for every forward: no new output (and garbage) a step.
  const velocity = new LentTensor(new Float32Array(n * (guided ? 2 : 1)), latentDims(shape, guided ? 2 : 1));
  let { x, mirror } = views();
  try {
    for (let i = 0; i < steps; i++) {
      timestep.set(sampler.timesteps[i]!);
      await transformer.run({ ...held, hidden_states: hidden, timestep: timestep.tensor }, { [outputName]: velocity });
      ({ x, mirror } = views());
      const v = velocity.data;
      // The preview's x0 frame: from the sampler's own estimate after its step where it makes one, else
      // gathered from the latent and the velocities before the step moves the latent.
      const preview = input.preview?.wants(i + 1) ? input.preview : undefined;
      const gathered = preview && !sampler.lastX0 ? previewX0(shape, x, v, sampler.sigmas[i]!, guided ? guidance : undefined) : undefined;
      sampler.step(i, x, guided ? { uncond: v.subarray(0, n), cond: v.subarray(n, 2 * n), guidance } : { v }, mirror);
      preview?.offer(i + 1, gathered ?? previewFrameOf(sampler.lastX0!(), shape.channels, shape.frames, shape.height * shape.width));
      await input.afterStep(i + 1, steps);
    }
    return x.slice();
  } finally {
    sampler.close?.();
  }
}

/** The loop with the batch on the session thread (ThreadBatch): each step is one request, scalars only. */
async function denoiseOnThread(input: DenoiseInput, sampler: UniPCSampler, hidden: LentTensor, held: Record<string, HeldTensor>, timestep: Feed, item: number): Promise<Float32Array> {
  const { shape, steps, guidance, transformer, outputName } = input;
  const guided = usesGuidance(guidance);
  const n = latentSize(shape);
  const batch = await transformer.openBatch({
    size: n, historySlots: sampler.historySlots, batch: guided ? 2 : 1, item,
    initial: hidden.data, inputDims: hidden.dims, outputDims: latentDims(shape, guided ? 2 : 1),
  });
  try {
    const frame = { channels: shape.channels, frames: shape.frames, pixels: shape.height * shape.width };
    for (let i = 0; i < steps; i++) {
      timestep.set(sampler.timesteps[i]!);
      const wants = input.preview?.wants(i + 1) ?? false;
      const x0 = await transformer.runOnBatch(batch, { ...held, timestep: timestep.tensor }, {
        input: "hidden_states", output: outputName, step: sampler.scalars(i, guided ? guidance : 0), ...(wants ? { frame } : {}),
      });
      if (x0) input.preview!.offer(i + 1, x0);
      await input.afterStep(i + 1, steps);
    }
    return await batch.read();
  } finally {
    await batch.close();
  }
}

