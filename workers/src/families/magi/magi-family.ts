import ort from "onnxruntime-node";
import { JobFailure, MAGI_CONFIG, magiContextChunks, magiContract, parseMagiConfig, type EffectiveParams, type MagiRuntimeConfig, type Manifest } from "@videosdgx/shared";
import type { Tokenizer } from "@huggingface/tokenizers";
import { decodeMagiChunk } from "./vae-tiles.js";
import { gaussianNoise } from "../../pipeline/noise.js";
import { encodeText } from "../../pipeline/text-encoding.js";
import { tokenizeToContext } from "../../pipeline/tokenize.js";
import { sharedRgbConverter } from "../../pipeline/rgb-frames-thread.js";
import { frameX0, previewLatentFrame, type FrameTerm } from "../../kernels/frame-x0.js";
import type { ChunkSink, FamilyModule, FamilyPipeline, StageRun } from "../family.js";
import { chunkScales, guidedStep } from "./guidance.js";
import { checkMagiSteps, magiForwardCount, magiForwards, magiTimes, type ForwardPlan } from "./schedule.js";
import type { HeldTensor, ModelSession } from "../../onnx/session-thread.js";

const CHANNELS = 16;

/** Each chunk's noise from its own stream: chunk c of a seed never repeats chunk 0 of another seed. */
export const chunkSeed = (seed: number, chunk: number): number =>
  Number((BigInt(seed) * 0x9e3779b97f4a7c15n + BigInt(chunk)) & ((1n << 52n) - 1n));

export interface MagiGeometry {
  chunkWidth: number;
  height: number;
  width: number;
  /** Values of one chunk's latent [16, chunk_width, h, w]. */
  chunkSize: number;
  /** Values of one channel of it. */
  plane: number;
}

export const magiGeometry = (config: MagiRuntimeConfig, spatialFactor: number, params: Pick<EffectiveParams, "width" | "height">): MagiGeometry => {
  const height = params.height / spatialFactor;
  const width = params.width / spatialFactor;
  const plane = config.chunk_width * height * width;
  return { chunkWidth: config.chunk_width, height, width, plane, chunkSize: CHANNELS * plane };
};

/**
 * The latents a job holds: only the chunks in the window and its context. A chunk gets its noise when
 * it enters the window and is dropped once no later forward shows it, so memory is the same for any length.
 */
export class ChunkLatents {
  private readonly held = new Map<number, Float32Array>();

  constructor(
    private readonly geometry: MagiGeometry,
    private readonly seed: number,
  ) {}

  get(chunk: number): Float32Array {
    let latent = this.held.get(chunk);
    if (!latent) {
      latent = gaussianNoise(this.geometry.chunkSize, chunkSeed(this.seed, chunk));
      this.held.set(chunk, latent);
    }
    return latent;
  }

  /** Drops every chunk before `first`. */
  dropBefore(first: number): void {
    for (const chunk of this.held.keys()) if (chunk < first) this.held.delete(chunk);
  }

  /** Bytes of latent held now: what the memory test watches. */
  get bytes(): number {
    let n = 0;
    for (const latent of this.held.values()) n += latent.byteLength;
    return n;
  }
}

/** The prompt's T5 states and mask, repeated for `batch` items (the passes feed them whatever they drop). */
function textFeeds(states: ort.Tensor, mask: BigInt64Array, batch: number): { encoder_hidden_states: ort.Tensor; encoder_attention_mask: ort.Tensor } {
  const [, length, dim] = states.dims as [number, number, number];
  const data = states.data as Float32Array;
  const repeated = new Float32Array(batch * length * dim);
  const masks = new BigInt64Array(batch * length);
  for (let b = 0; b < batch; b++) {
    repeated.set(data, b * length * dim);
    masks.set(mask, b * length);
  }
  return {
    encoder_hidden_states: new ort.Tensor("float32", repeated, [batch, length, dim]),
    encoder_attention_mask: new ort.Tensor("int64", masks, [batch, length]),
  };
}

const int64 = (values: number[], dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(values, BigInt), dims);

interface Passes {
  /** [with previous chunks and text, with previous chunks only]: one batch of 2. */
  conditioned: Float32Array;
  /** Each window chunk alone, no text: one batch of n. */
  uncond: Float32Array;
}

/**
 * Runs one forward's three passes (MAGI's forward_3cfg). The batch of 2 sees the context chunks (clean,
 * at clean_t, with the null caption) then the window; item 0 has the prompt on the window chunks, item 1
 * the null caption everywhere. The unconditional pass is each window chunk alone at position 0.
 */
class MagiTransformer {
  /** The prompt's feeds per batch size, their states held on the session thread for the whole job. */
  private readonly text = new Map<number, Promise<{ encoder_hidden_states: HeldTensor; encoder_attention_mask: ort.Tensor }>>();

  constructor(
    private readonly transformer: ModelSession,
    private readonly geometry: MagiGeometry,
    private readonly config: MagiRuntimeConfig,
    private readonly times: Float64Array,
    private readonly states: ort.Tensor,
    private readonly mask: BigInt64Array,
  ) {}

  private textFor(batch: number) {
    let feeds = this.text.get(batch);
    if (!feeds) {
      const { encoder_hidden_states, encoder_attention_mask } = textFeeds(this.states, this.mask, batch);
      feeds = this.transformer.hold("encoder_hidden_states", encoder_hidden_states).then((held) => ({ encoder_hidden_states: held, encoder_attention_mask }));
      this.text.set(batch, feeds);
    }
    return feeds;
  }

  async release(): Promise<void> {
    const feeds = await Promise.allSettled(this.text.values());
    await Promise.all(feeds.flatMap((f) => (f.status === "fulfilled" ? [f.value.encoder_hidden_states.release()] : [])));
  }

  async run(plan: ForwardPlan, latents: ChunkLatents): Promise<Passes> {
    const { plane, chunkWidth, height, width } = this.geometry;
    const chunks = [...plan.context, ...plan.chunks.map((c) => c.chunk)];
    const m = chunks.length;
    const n = plan.chunks.length;
    const hidden = new Float32Array(2 * CHANNELS * m * plane);
    for (let b = 0; b < 2; b++) {
      chunks.forEach((chunk, j) => {
        const latent = latents.get(chunk);
        for (let ch = 0; ch < CHANNELS; ch++) hidden.set(latent.subarray(ch * plane, (ch + 1) * plane), ((b * CHANNELS + ch) * m + j) * plane);
      });
    }
    const k = plan.context.length;
    const t = [...plan.context.map(() => this.config.clean_t), ...plan.chunks.map((c) => this.times[c.step]!)];
    const dropout = new Uint8Array(2 * m).fill(1);
    for (let j = k; j < m; j++) dropout[j] = 0;
    const kv = [...plan.context.map((_, j) => [j, j + 1]), ...plan.chunks.map((c) => c.kv)].flat();
    const out = await this.transformer.run({
      hidden_states: new ort.Tensor("float32", hidden, [2, CHANNELS, m * chunkWidth, height, width]),
      timestep: new ort.Tensor("float32", Float32Array.from([...t, ...t]), [2, m]),
      ...(await this.textFor(2)),
      caption_dropout: new ort.Tensor("bool", dropout, [2, m]),
      kv_range: int64([...kv, ...kv], [2, m, 2]),
      slice_point: int64([chunks[0]!], [1]),
    });

    const alone = new Float32Array(n * CHANNELS * plane);
    plan.chunks.forEach((c, b) => alone.set(latents.get(c.chunk), b * CHANNELS * plane));
    const free = await this.transformer.run({
      hidden_states: new ort.Tensor("float32", alone, [n, CHANNELS, chunkWidth, height, width]),
      timestep: new ort.Tensor("float32", Float32Array.from(plan.chunks, (c) => this.times[c.step]!), [n, 1]),
      ...(await this.textFor(n)),
      caption_dropout: new ort.Tensor("bool", new Uint8Array(n).fill(1), [n, 1]),
      kv_range: int64(plan.chunks.flatMap(() => [0, 1]), [n, 1, 2]),
      slice_point: int64([0], [1]),
    });
    return { conditioned: velocityOf(out, 2 * CHANNELS * m * plane), uncond: velocityOf(free, n * CHANNELS * plane) };
  }
}

function velocityOf(out: Record<string, ort.Tensor>, size: number): Float32Array {
  const v = out.velocity?.data;
  if (!(v instanceof Float32Array) || v.length !== size) throw new Error(`transformer output velocity must be float32 or float16 with ${size} values`);
  return v;
}

/** Applies one forward's guided Euler update to each window chunk (MAGI's integrate, chunk by chunk). */
function integrate(plan: ForwardPlan, passes: Passes, latents: ChunkLatents, geometry: MagiGeometry, times: Float64Array, config: MagiRuntimeConfig, guidance: number): void {
  const { plane } = geometry;
  const m = plan.context.length + plan.chunks.length;
  plan.chunks.forEach((c, jj) => {
    const j = plan.context.length + jj;
    const latent = latents.get(c.chunk);
    const scales = chunkScales(config, times[c.step]!, guidance);
    const dt = times[c.step + 1]! - times[c.step]!;
    for (let ch = 0; ch < CHANNELS; ch++) {
      const at = (b: number) => ((b * CHANNELS + ch) * m + j) * plane;
      guidedStep(
        latent.subarray(ch * plane, (ch + 1) * plane),
        {
          text: passes.conditioned.subarray(at(0), at(0) + plane),
          previous: passes.conditioned.subarray(at(1), at(1) + plane),
          uncond: passes.uncond.subarray((jj * CHANNELS + ch) * plane, (jj * CHANNELS + ch + 1) * plane),
        },
        scales,
        dt,
      );
    }
  });
}

/**
 * The x0 estimate of the window's most advanced chunk (the next to be ready), its middle latent frame,
 * before the forward's update moves it: in MAGI's time (0 noise, 1 clean) x0 = x + (1 - t) v, v the
 * three-way guided velocity integrate applies.
 */
function previewX0(plan: ForwardPlan, passes: Passes, latents: ChunkLatents, geometry: MagiGeometry, times: Float64Array, config: MagiRuntimeConfig, guidance: number): Float32Array {
  const { plane, height, width } = geometry;
  const pixels = height * width;
  const frame = previewLatentFrame(geometry.chunkWidth) * pixels;
  const m = plan.context.length + plan.chunks.length;
  const lead = plan.chunks[0]!;
  const j = plan.context.length;
  const t = times[lead.step]!;
  const scales = chunkScales(config, t, guidance);
  const along = 1 - t;
  const conditioned = (b: number) => (ch: number) => ((b * CHANNELS + ch) * m + j) * plane + frame;
  const terms: FrameTerm[] = [
    { data: latents.get(lead.chunk), weight: 1, offset: (ch) => ch * plane + frame },
    { data: passes.uncond, weight: along * (1 - scales.prev), offset: (ch) => ch * plane + frame },
    { data: passes.conditioned, weight: along * (scales.prev - scales.text), offset: conditioned(1) },
    { data: passes.conditioned, weight: along * scales.text, offset: conditioned(0) },
  ];
  return frameX0(CHANNELS, pixels, 1, terms);
}

/** A clean chunk as the VAE takes it: divided by its scale factor (a plain loop: Float32Array.from with a map is slow). */
function unscaled(latent: Float32Array, scale: number): Float32Array {
  const out = new Float32Array(latent.length);
  for (let i = 0; i < latent.length; i++) out[i] = latent[i]! / scale;
  return out;
}

/** Observes a job's latents after each chunk: the memory test reads what the pipeline holds. */
export type LatentProbe = (latents: ChunkLatents, chunk: number) => Promise<void>;

export interface MagiSessions {
  tokenizer: Tokenizer;
  textEncoder: ModelSession;
  transformer: ModelSession;
  vaeDecoder: ModelSession;
}

/** The pipeline over loaded sessions; `probe` (tests) sees the latents held after each chunk. */
export function magiPipeline(manifest: Manifest, config: MagiRuntimeConfig, sessions: MagiSessions, probe?: LatentProbe): FamilyPipeline {
  const chunkFrames = config.chunk_width * config.temporal_downsample_factor;

  async function stream(params: EffectiveParams, run: StageRun, sink: ChunkSink): Promise<void> {
    try {
      checkMagiSteps(params.steps, config);
    } catch (err) {
      throw new JobFailure("inference_failed", `model ${params.model}: ${(err as Error).message}`, false);
    }
    const geometry = magiGeometry(config, manifest.latent.spatial_factor, params);
    const chunkCount = params.num_frames / chunkFrames;
    const times = magiTimes(params.steps, config.shift);
    const { states, mask } = await run.stage("encoding_text", "encode_text_ms", async () => {
      const tokens = tokenizeToContext(sessions.tokenizer, [params.prompt], manifest.text.max_tokens);
      return { states: await encodeText(sessions.textEncoder, tokens), mask: tokens.mask };
    });
    const transformer = new MagiTransformer(sessions.transformer, geometry, config, times, states, mask);
    const latents = new ChunkLatents(geometry, params.seed);
    const contextCount = magiContextChunks(config);
    const total = magiForwardCount(chunkCount, params.steps, config.window_size);
    const shape = { channels: CHANNELS, frames: config.chunk_width, height: geometry.height, width: geometry.width, tokens: 0 };
    const size = { frames: chunkFrames, width: params.width, height: params.height };
    // Frames to RGB on a thread of its own, in parts that ffmpeg encodes while the next are converted:
    // it is on the path from a chunk's last step to its download.
    const rgb = sharedRgbConverter();
    await run.stage("denoising", "denoise_ms", async () => {
      try {
        await denoiseChunks();
      } finally {
        await transformer.release();
      }
    });

    async function denoiseChunks(): Promise<void> {
      let done = 0;
      for (const plan of magiForwards(chunkCount, params.steps, config)) {
        const passes = await transformer.run(plan, latents);
        if (run.preview?.wants(done + 1)) run.preview.offer(done + 1, previewX0(plan, passes, latents, geometry, times, config, params.guidance));
        integrate(plan, passes, latents, geometry, times, config, params.guidance);
        await run.step(++done, total);
        if (plan.finishes === undefined) continue;
        // MAGI's decode_chunk: each clean chunk on its own, divided by the VAE's scale factor, in spatial tiles.
        const latent = unscaled(latents.get(plan.finishes), config.scale_factor);
        const video = await decodeMagiChunk(sessions.vaeDecoder, latent, shape, size, manifest.latent.spatial_factor);
        const frames = rgb.frames(video, size);
        await sink.chunk(frames, plan.finishes, chunkCount).finally(() => frames.close());
        latents.dropBefore(plan.finishes + 1 - contextCount);
        await probe?.(latents, plan.finishes);
      }
    }
  }

  return {
    stream,
    async render(params, run) {
      const out = new Uint8Array(params.num_frames * params.height * params.width * 3);
      let at = 0;
      await stream(params, run, {
        chunk: async (frames) => {
          for await (const part of frames.parts) {
            out.set(part, at);
            at += part.length;
          }
        },
      });
      return out;
    },
  };
}

/**
 * MAGI-1 as Sand AI's pipeline runs it (inference/pipeline/video_generate.py): chunk after chunk through
 * a window of staggered noise levels, the three-way guidance of text and previous chunks, the t^2-and-shift
 * schedule with Euler steps, each clean chunk decoded on its own and handed over as soon as it is.
 */
export const magiFamily: FamilyModule = {
  contract: magiContract,
  async load(folder) {
    const config = await folder.config(MAGI_CONFIG, (json) => parseMagiConfig(json, folder.manifest));
    const tokenizer = await folder.tokenizer();
    const textEncoder = await folder.session("text_encoder");
    const transformer = await folder.session("transformer");
    const vaeDecoder = await folder.session("vae_decoder");
    return magiPipeline(folder.manifest, config, { tokenizer, textEncoder, transformer, vaeDecoder });
  },
};
