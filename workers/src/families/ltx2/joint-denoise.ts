import ort from "onnxruntime-node";
import { GraphBoundary } from "../../onnx/graph-boundary.js";
import type { Sampler } from "../../pipeline/sampler.js";
import { repeatBatch } from "./coords.js";
import { guidedVelocity, type X0Passes, type X0Scales } from "./guidance.js";

/** The connectors' prompt states, batch [uncond, cond] with text CFG, [cond] without. */
export interface PromptStates {
  video: ort.Tensor;
  audio: ort.Tensor;
  mask: ort.Tensor;
}

export interface JointDenoiseInput {
  transformer: ort.InferenceSession;
  prompts: PromptStates;
  /** Packed noise: [S_v, C] and [S_a, C_a*M/4]; denoised in place. */
  video: Float32Array;
  audio: Float32Array;
  dims: { videoTokens: number; videoChannels: number; audioTokens: number; audioFeatures: number };
  /** The transformer's scalar inputs, as the reference passes them. */
  grid: { frames: number; height: number; width: number; fps: number; audioFrames: number };
  /** One batch item's coords: [3, S_v, 2] and [1, S_a, 2]. */
  videoCoords: Float32Array;
  audioCoords: Float32Array;
  /** The video's scheduler and the audio's own copy (diffusers deep-copies it: a second scheduler state). */
  videoSampler: Sampler;
  audioSampler: Sampler;
  videoScales: X0Scales;
  audioScales: X0Scales;
  afterStep: (step: number, total: number) => Promise<void>;
}

/** Which extra transformer passes a step makes: diffusers' do_classifier_free_guidance and friends. */
export function guidancePasses(video: X0Scales, audio: X0Scales): { cfg: boolean; stg: boolean; modality: boolean } {
  return {
    cfg: video.guidance > 1 || audio.guidance > 1,
    stg: video.stg > 0 || audio.stg > 0,
    modality: video.modality > 1 || audio.modality > 1,
  };
}

const half = (t: ort.Tensor, batch: number): ort.Tensor => {
  if (t.dims[0] === batch) return t;
  const per = t.data.length / (t.dims[0] as number);
  const data = (t.data as Float32Array | BigInt64Array).subarray(per); // the conditional (second) item
  return new ort.Tensor(t.type as "float32", data as Float32Array, [batch, ...t.dims.slice(1)]);
};

const int64 = (v: number) => new ort.Tensor("int64", BigInt64Array.of(BigInt(v)), [1]);

/**
 * LTX2Pipeline's denoising loop over the joint latents: the (batched) text-CFG pass, then the STG and
 * modality-isolation passes on the conditional prompt when their scales ask for them; guidance in x0
 * space per modality; one Euler step of each scheduler. The latents stay float32.
 */
export async function jointDenoise(input: JointDenoiseInput): Promise<{ runtimeMs: number }> {
  const { dims, grid, videoSampler, audioSampler } = input;
  const passes = guidancePasses(input.videoScales, input.audioScales);
  const batch = passes.cfg ? 2 : 1;
  const nv = dims.videoTokens * dims.videoChannels;
  const na = dims.audioTokens * dims.audioFeatures;
  // One boundary per batch size: each keeps its float16 conversion buffers at its own sizes.
  const mainBoundary = new GraphBoundary(input.transformer);
  const singleBoundary = batch === 1 ? mainBoundary : new GraphBoundary(input.transformer);
  const steps = videoSampler.timesteps.length;

  // Inputs fixed through the loop, converted to the graph's types once; the latents' batch buffers are
  // refreshed each step.
  const fixed = (b: number, transformer: GraphBoundary) => ({
    encoder_hidden_states: transformer.toInput("encoder_hidden_states", half(input.prompts.video, b)),
    audio_encoder_hidden_states: transformer.toInput("audio_encoder_hidden_states", half(input.prompts.audio, b)),
    encoder_attention_mask: half(input.prompts.mask, b),
    audio_encoder_attention_mask: half(input.prompts.mask, b),
    num_frames: int64(grid.frames),
    height: int64(grid.height),
    width: int64(grid.width),
    fps: new ort.Tensor("float32", Float32Array.of(grid.fps), [1]),
    audio_num_frames: int64(grid.audioFrames),
    video_coords: new ort.Tensor("float32", repeatBatch(input.videoCoords, b), [b, 3, dims.videoTokens, 2]),
    audio_coords: new ort.Tensor("float32", repeatBatch(input.audioCoords, b), [b, 1, dims.audioTokens, 2]),
  });
  const mainFeeds = fixed(batch, mainBoundary);
  // The extra passes run on the conditional prompt alone, batch 1.
  const singleFeeds = batch === 1 ? mainFeeds : fixed(1, singleBoundary);
  const hidden = new Float32Array(nv * batch);
  const audioHidden = new Float32Array(na * batch);
  const timestep = new Float32Array(batch);
  const flag = (on: boolean) => new ort.Tensor("bool", Uint8Array.of(on ? 1 : 0), [1]);
  const ones = (b: number) => new ort.Tensor("float32", new Float32Array(b).fill(1), [b]);
  const perturbNone = ones(batch);
  const perturbAll = new ort.Tensor("float32", new Float32Array(1), [1]);
  let runtimeMs = 0;
  const halfOutputs = input.transformer.outputMetadata.some((m) => m.isTensor && m.type === "float16");

  async function pass(b: number, isolate: boolean, perturb: ort.Tensor): Promise<{ v: Float32Array; a: Float32Array }> {
    const started = performance.now();
    const out = await (b === batch ? mainBoundary : singleBoundary).run({
      ...(b === batch ? mainFeeds : singleFeeds),
      hidden_states: new ort.Tensor("float32", b === batch ? hidden : hidden.subarray(0, nv), [b, dims.videoTokens, dims.videoChannels]),
      audio_hidden_states: new ort.Tensor("float32", b === batch ? audioHidden : audioHidden.subarray(0, na), [b, dims.audioTokens, dims.audioFeatures]),
      timestep: new ort.Tensor("float32", timestep.subarray(0, b), [b]),
      sigma: new ort.Tensor("float32", timestep.subarray(0, b), [b]),
      isolate_modalities: flag(isolate),
      perturbation_mask: perturb,
    });
    runtimeMs += performance.now() - started;
    const v = out.sample?.data;
    const a = out.audio_sample?.data;
    if (!(v instanceof Float32Array) || v.length !== nv * b || !(a instanceof Float32Array) || a.length !== na * b) {
      throw new Error(`transformer outputs sample and audio_sample must be float32 or float16 with ${nv * b} and ${na * b} values`);
    }
    // A float16 output comes back in the boundary's conversion buffer, reused by its next run: kept by a
    // copy. A float32 output is a fresh tensor of the session's.
    return halfOutputs ? { v: v.slice(), a: a.slice() } : { v, a };
  }

  for (let i = 0; i < steps; i++) {
    for (let b = 0; b < batch; b++) {
      hidden.set(input.video, b * nv);
      audioHidden.set(input.audio, b * na);
    }
    timestep.fill(videoSampler.timesteps[i]!);
    const main = await pass(batch, false, perturbNone);
    const video: X0Passes = passes.cfg ? { uncond: main.v.subarray(0, nv), cond: main.v.subarray(nv) } : { cond: main.v };
    const audio: X0Passes = passes.cfg ? { uncond: main.a.subarray(0, na), cond: main.a.subarray(na) } : { cond: main.a };
    if (passes.stg) {
      const p = await pass(1, false, perturbAll);
      video.perturbed = p.v;
      audio.perturbed = p.a;
    }
    if (passes.modality) {
      const p = await pass(1, true, ones(1));
      video.isolated = p.v;
      audio.isolated = p.a;
    }
    const vOut = video.cond;
    const aOut = audio.cond;
    guidedVelocity(input.video, videoSampler.sigmas[i]!, video, input.videoScales, vOut);
    guidedVelocity(input.audio, audioSampler.sigmas[i]!, audio, input.audioScales, aOut);
    videoSampler.step(i, input.video, { v: vOut });
    audioSampler.step(i, input.audio, { v: aOut });
    await input.afterStep(i + 1, steps);
  }
  return { runtimeMs };
}
