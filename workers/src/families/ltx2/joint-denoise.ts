import ort from "onnxruntime-node";
import type { FlowMatchEulerSampler } from "../../pipeline/flow-match-scheduler.js";
import { frameX0, previewLatentFrame } from "../../kernels/frame-x0.js";
import type { PreviewSink } from "../../preview/preview-sink.js";
import { repeatBatch } from "./coords.js";
import { X0Guidance, type X0Passes, type X0Scales } from "./guidance.js";
import { HeldTensor, LentTensor, type ModelSession } from "../../onnx/session-thread.js";

/** The connectors' prompt states, batch [uncond, cond] with text CFG, [cond] without. */
export interface PromptStates {
  video: ort.Tensor;
  audio: ort.Tensor;
  mask: ort.Tensor;
}

export interface JointDenoiseInput {
  transformer: ModelSession;
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
  /**
   * The video's scheduler and the audio's own copy (diffusers deep-copies it: a second scheduler state).
   * Their Euler steps run in the guidance kernel (guidance.ts), from their sigmas.
   */
  videoSampler: FlowMatchEulerSampler;
  audioSampler: FlowMatchEulerSampler;
  videoScales: X0Scales;
  audioScales: X0Scales;
  afterStep: (step: number, total: number) => Promise<void>;
  /** Takes the middle latent frame's video x0 estimate at the steps it wants. */
  preview?: PreviewSink;
}

/** The middle latent frame's x0 = x - sigma * v of the packed video latent [F*H*W, C] the step started from. */
function previewX0(input: JointDenoiseInput, x: Float32Array, v: Float32Array, sigma: number): Float32Array {
  const { grid, dims } = input;
  const plane = grid.height * grid.width;
  const channels = dims.videoChannels;
  const first = previewLatentFrame(grid.frames) * plane * channels;
  const offset = (c: number) => first + c;
  return frameX0(channels, plane, channels, [
    { data: x, weight: 1, offset },
    { data: v, weight: -sigma, offset },
  ]);
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
  const { transformer } = input;
  const runtimeBefore = transformer.runtimeMs;
  const steps = videoSampler.timesteps.length;

  // Inputs fixed through the loop, held on the session thread and sent once (the coords and masks are
  // hundreds of KB: a copy each of three passes a step cost more than the guidance); the latents' batch
  // buffers are refreshed each step.
  const fixed = async (b: number) => {
    const inputs: Record<string, ort.Tensor> = {
      encoder_hidden_states: half(input.prompts.video, b),
      audio_encoder_hidden_states: half(input.prompts.audio, b),
      encoder_attention_mask: half(input.prompts.mask, b),
      audio_encoder_attention_mask: half(input.prompts.mask, b),
      num_frames: int64(grid.frames),
      height: int64(grid.height),
      width: int64(grid.width),
      fps: new ort.Tensor("float32", Float32Array.of(grid.fps), [1]),
      audio_num_frames: int64(grid.audioFrames),
      video_coords: new ort.Tensor("float32", repeatBatch(input.videoCoords, b), [b, 3, dims.videoTokens, 2]),
      audio_coords: new ort.Tensor("float32", repeatBatch(input.audioCoords, b), [b, 1, dims.audioTokens, 2]),
    };
    return Object.fromEntries(await Promise.all(Object.entries(inputs).map(async ([name, t]) => [name, await transformer.hold(name, t)] as const)));
  };
  const mainFeeds = await fixed(batch);
  // The extra passes run on the conditional prompt alone, batch 1.
  const singleFeeds = batch === 1 ? mainFeeds : await fixed(1);
  // The latents' batch buffers move to the session thread for each pass and back, not copied.
  let hidden: Float32Array = new Float32Array(nv * batch);
  let audioHidden: Float32Array = new Float32Array(na * batch);
  const timestep = new Float32Array(batch);
  const flag = (on: boolean) => new ort.Tensor("bool", Uint8Array.of(on ? 1 : 0), [1]);
  const ones = (b: number) => new ort.Tensor("float32", new Float32Array(b).fill(1), [b]);
  const perturbNone = ones(batch);
  const perturbAll = new ort.Tensor("float32", new Float32Array(1), [1]);
  const videoGuidance = new X0Guidance(nv);
  const audioGuidance = new X0Guidance(na);

  // Each kind of pass writes its velocities into buffers of its own, lent for every run like the latents:
  // no new outputs (and garbage) a pass, and each pass's stay valid until the step has used them.
  const outputs = new Map<string, { sample: LentTensor; audio_sample: LentTensor }>();
  const outputsOf = (kind: string, b: number) => {
    let o = outputs.get(kind);
    if (!o) {
      o = {
        sample: new LentTensor(new Float32Array(nv * b), [b, dims.videoTokens, dims.videoChannels]),
        audio_sample: new LentTensor(new Float32Array(na * b), [b, dims.audioTokens, dims.audioFeatures]),
      };
      outputs.set(kind, o);
    }
    return o;
  };

  async function pass(kind: string, b: number, isolate: boolean, perturb: ort.Tensor): Promise<{ v: Float32Array; a: Float32Array }> {
    const video = new LentTensor(hidden.subarray(0, nv * b), [b, dims.videoTokens, dims.videoChannels]);
    const audio = new LentTensor(audioHidden.subarray(0, na * b), [b, dims.audioTokens, dims.audioFeatures]);
    const into = outputsOf(kind, b);
    await transformer.run({
      ...(b === batch ? mainFeeds : singleFeeds),
      hidden_states: video,
      audio_hidden_states: audio,
      timestep: new ort.Tensor("float32", timestep.subarray(0, b), [b]),
      sigma: new ort.Tensor("float32", timestep.subarray(0, b), [b]),
      isolate_modalities: flag(isolate),
      perturbation_mask: perturb,
    }, into).finally(() => {
      hidden = new Float32Array(video.data.buffer);
      audioHidden = new Float32Array(audio.data.buffer);
    });
    return { v: into.sample.data, a: into.audio_sample.data };
  }

  try {
    await loop();
  } finally {
    const held = new Set([...Object.values(mainFeeds), ...Object.values(singleFeeds)].filter((f) => f instanceof HeldTensor));
    await Promise.all([...held].map((h) => h.release()));
  }
  return { runtimeMs: transformer.runtimeMs - runtimeBefore };

  async function loop(): Promise<void> {
  for (let i = 0; i < steps; i++) {
    for (let b = 0; b < batch; b++) {
      hidden.set(input.video, b * nv);
      audioHidden.set(input.audio, b * na);
    }
    timestep.fill(videoSampler.timesteps[i]!);
    const main = await pass("text", batch, false, perturbNone);
    const video: X0Passes = passes.cfg ? { uncond: main.v.subarray(0, nv), cond: main.v.subarray(nv) } : { cond: main.v };
    const audio: X0Passes = passes.cfg ? { uncond: main.a.subarray(0, na), cond: main.a.subarray(na) } : { cond: main.a };
    if (passes.stg) {
      const p = await pass("stg", 1, false, perturbAll);
      video.perturbed = p.v;
      audio.perturbed = p.a;
    }
    if (passes.modality) {
      const p = await pass("modality", 1, true, ones(1));
      video.isolated = p.v;
      audio.isolated = p.a;
    }
    const sigma = videoSampler.sigmas[i]!;
    const moved = videoGuidance.step(input.video, sigma, videoSampler.sigmas[i + 1]!, video, input.videoScales);
    audioGuidance.step(input.audio, audioSampler.sigmas[i]!, audioSampler.sigmas[i + 1]!, audio, input.audioScales);
    if (input.preview?.wants(i + 1)) input.preview.offer(i + 1, previewX0(input, moved.before, moved.velocity, sigma));
    await input.afterStep(i + 1, steps);
  }
  }
}
