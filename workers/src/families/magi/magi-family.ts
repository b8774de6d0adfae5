import ort from "onnxruntime-node";
import { JobFailure, MAGI_CONFIG, magiContextChunks, magiContract, parseMagiConfig, type EffectiveParams, type MagiRuntimeConfig, type Manifest } from "@videosdgx/shared";
import type { Tokenizer } from "@huggingface/tokenizers";
import { GraphBoundary } from "../../onnx/graph-boundary.js";
import { decodeToVideo } from "../../pipeline/decode.js";
import { gaussianNoise } from "../../pipeline/noise.js";
import { encodeText } from "../../pipeline/text-encoding.js";
import { tokenizeToContext } from "../../pipeline/tokenize.js";
import { createRgbConverter } from "../../pipeline/rgb-frames-graph.js";
import type { ChunkSink, FamilyModule, FamilyPipeline, StageRun } from "../family.js";
import { chunkScales, guidedStep } from "./guidance.js";
import { checkMagiSteps, magiForwardCount, magiForwards, magiTimes, type ForwardPlan } from "./schedule.js";

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
  private readonly conditioned: GraphBoundary;
  private readonly uncond: GraphBoundary;
  private readonly uncondText = new Map<number, ReturnType<typeof textFeeds>>();

  constructor(
    session: ort.InferenceSession,
    private readonly geometry: MagiGeometry,
    private readonly config: MagiRuntimeConfig,
    private readonly times: Float64Array,
    private readonly states: ort.Tensor,
    private readonly mask: BigInt64Array,
  ) {
    // Two boundaries: each keeps its own conversion buffers for its own batch shape.
    this.conditioned = new GraphBoundary(session);
    this.uncond = new GraphBoundary(session);
  }

  private readonly pairText = (() => {
    let feeds: ReturnType<typeof textFeeds> | undefined;
    return () => (feeds ??= textFeeds(this.states, this.mask, 2));
  })();

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
    const out = await this.conditioned.run({
      hidden_states: new ort.Tensor("float32", hidden, [2, CHANNELS, m * chunkWidth, height, width]),
      timestep: new ort.Tensor("float32", Float32Array.from([...t, ...t]), [2, m]),
      ...this.pairText(),
      caption_dropout: new ort.Tensor("bool", dropout, [2, m]),
      kv_range: int64([...kv, ...kv], [2, m, 2]),
      slice_point: int64([chunks[0]!], [1]),
    });

    const alone = new Float32Array(n * CHANNELS * plane);
    plan.chunks.forEach((c, b) => alone.set(latents.get(c.chunk), b * CHANNELS * plane));
    let text = this.uncondText.get(n);
    if (!text) this.uncondText.set(n, (text = textFeeds(this.states, this.mask, n)));
    const free = await this.uncond.run({
      hidden_states: new ort.Tensor("float32", alone, [n, CHANNELS, chunkWidth, height, width]),
      timestep: new ort.Tensor("float32", Float32Array.from(plan.chunks, (c) => this.times[c.step]!), [n, 1]),
      ...text,
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
  textEncoder: ort.InferenceSession;
  transformer: ort.InferenceSession;
  vaeDecoder: ort.InferenceSession;
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
    // Frames to RGB on ONNX Runtime's threads: it is on the path from a chunk's last step to its download.
    const rgb = await createRgbConverter();
    await run.stage("denoising", "denoise_ms", async () => {
      let done = 0;
      for (const plan of magiForwards(chunkCount, params.steps, config)) {
        integrate(plan, await transformer.run(plan, latents), latents, geometry, times, config, params.guidance);
        await run.step(++done, total);
        if (plan.finishes === undefined) continue;
        // MAGI's decode_chunk: each clean chunk on its own, divided by the VAE's scale factor.
        const latent = unscaled(latents.get(plan.finishes), config.scale_factor);
        const video = await decodeToVideo(sessions.vaeDecoder, latent, shape, size);
        const frames = await rgb.toRgb(new ort.Tensor("float32", video, [1, 3, size.frames, size.height, size.width]));
        await sink.chunk(frames, plan.finishes, chunkCount);
        latents.dropBefore(plan.finishes + 1 - contextCount);
        await probe?.(latents, plan.finishes);
      }
    }).finally(() => rgb.release());
  }

  return {
    stream,
    async render(params, run) {
      const out = new Uint8Array(params.num_frames * params.height * params.width * 3);
      let at = 0;
      await stream(params, run, {
        chunk: async (frames) => {
          out.set(frames, at);
          at += frames.length;
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
