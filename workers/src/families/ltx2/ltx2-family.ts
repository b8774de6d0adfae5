import ort from "onnxruntime-node";
import {
  LTX2_AUDIO_COMPRESSION, LTX2_AUDIO_VAE_CONFIG, LTX2_VAE_CONFIG, LTX2_VOCODER_CONFIG, X0GuidanceSchema,
  ltx2Contract, parseLtx2AudioVaeConfig, parseLtx2VaeConfig, parseLtx2VocoderConfig, type EffectiveParams, type Manifest,
} from "@videosdgx/shared";
import { decodeToVideo } from "../../pipeline/decode.js";
import { FlowMatchEulerSampler } from "../../pipeline/flow-match-scheduler.js";
import { gaussianNoise } from "../../pipeline/noise.js";
import type { SchedulerConfig } from "../../pipeline/scheduler-config.js";
import { tokenizeToContext } from "../../pipeline/tokenize.js";
import { roundHalfEven, videoToRgb } from "../../pipeline/video-frames.js";
import type { AudioVisual, FamilyModule, StageRun } from "../family.js";
import { audioCoords, videoCoords } from "./coords.js";
import { guidancePasses, jointDenoise, type PromptStates } from "./joint-denoise.js";
import type { X0Scales } from "./guidance.js";
import {
  addDecodeNoise, audioFeatures, denormaliseAudio, denormaliseVideo, packAudio, packVideo, unpackAudio, unpackVideo,
  videoTokens, type AudioGrid, type VideoGrid,
} from "./latents.js";
import { decodeSound } from "./sound.js";

/** LTX2Pipeline's `sigmas = np.linspace(1.0, 1 / N, N)`. */
export function ltx2Sigmas(steps: number): Float64Array {
  const out = new Float64Array(steps);
  const step = steps > 1 ? (1 / steps - 1) / (steps - 1) : 0;
  for (let i = 0; i < steps; i++) out[i] = 1 + i * step;
  if (steps > 1) out[steps - 1] = 1 / steps;
  return out;
}

/** The video's scheduler and the audio's own copy, on LTX2Pipeline's sigmas with mu from the video token count. */
export function ltx2Samplers(config: SchedulerConfig, steps: number, tokens: number): { video: FlowMatchEulerSampler; audio: FlowMatchEulerSampler } {
  if (config._class_name !== "FlowMatchEulerDiscreteScheduler") throw new Error("scheduler_config.json: family ltx2 samples with FlowMatchEulerDiscreteScheduler");
  const sigmas = ltx2Sigmas(steps);
  return { video: new FlowMatchEulerSampler(config, steps, tokens, sigmas), audio: new FlowMatchEulerSampler(config, steps, tokens, sigmas) };
}

/** The job's guidance scales per modality; the audio's fall back to the video's where diffusers' `or` does. */
export function ltx2Scales(manifest: Manifest, guidance: number): { video: X0Scales; audio: X0Scales } {
  const g = manifest.sampling?.x0_guidance ?? X0GuidanceSchema.parse({});
  return {
    video: { guidance, stg: g.stg_scale, modality: g.modality_scale, rescale: g.guidance_rescale },
    audio: {
      guidance: g.audio_guidance_scale || guidance,
      stg: g.audio_stg_scale || g.stg_scale,
      modality: g.audio_modality_scale || g.modality_scale,
      rescale: g.audio_guidance_rescale || g.guidance_rescale,
    },
  };
}

/** `audio_num_frames = round(duration_s * sample_rate / hop / 4)` (Python's round: halves to even). */
export const audioLatentFrames = (numFrames: number, fps: number, sampleRate: number, hop: number): number =>
  roundHalfEven((numFrames / fps) * (sampleRate / hop / LTX2_AUDIO_COMPRESSION));

/**
 * LTX-2 text to video with sound as diffusers' LTX2Pipeline runs it: Gemma states (left-padded) through
 * the connectors, the joint packed latents (noise drawn video first, then audio, then the decode noise),
 * two Euler schedulers on linspace(1, 1/N, N) with the dynamic shift of the video token count, guidance in
 * x0 space, the video VAE's denormalisation and decode timestep, and the audio VAE and vocoder for the
 * sound (skipped when the job says `audio: false`).
 */
export const ltx2Family: FamilyModule = {
  contract: ltx2Contract,
  async load(folder) {
    const { manifest } = folder;
    const [tokenizer, scheduler] = [await folder.tokenizer(), await folder.scheduler()];
    folder.checked(() => ltx2Samplers(scheduler, 1, 1));
    const vae = await folder.config(LTX2_VAE_CONFIG, (json) => parseLtx2VaeConfig(json, manifest.latent.channels));
    const audioVaeConfig = await folder.config(LTX2_AUDIO_VAE_CONFIG, parseLtx2AudioVaeConfig);
    const { outputSampleRate } = await folder.config(LTX2_VOCODER_CONFIG, parseLtx2VocoderConfig);
    const textEncoder = await folder.session("text_encoder");
    const connectors = await folder.session("connectors");
    const transformer = await folder.session("transformer");
    const vaeDecoder = await folder.session("vae_decoder");
    const audioVae = await folder.session("audio_vae_decoder");
    const vocoder = await folder.session("vocoder");
    const decodeTimestep = manifest.sampling?.decode_timestep ?? 0;
    const decodeNoiseScale = manifest.sampling?.decode_noise_scale ?? decodeTimestep;

    async function encodePrompts(prompts: string[]): Promise<PromptStates> {
      const tokens = tokenizeToContext(tokenizer, prompts.map((p) => p.trim()), manifest.text.max_tokens, "left");
      const mask = new ort.Tensor("int64", tokens.mask, tokens.dims);
      const states = (await textEncoder.run({ input_ids: new ort.Tensor("int64", tokens.ids, tokens.dims), attention_mask: mask })).hidden_states;
      if (!states) throw new Error("text encoder has no output named hidden_states");
      const out = await connectors.run({ text_encoder_hidden_states: states, attention_mask: mask });
      const [video, audio, connectorMask] = [out.video_text_embedding, out.audio_text_embedding, out.connector_attention_mask];
      if (!video || !audio || !connectorMask) throw new Error("connectors must output video_text_embedding, audio_text_embedding and connector_attention_mask");
      return { video, audio, mask: connectorMask };
    }

    async function renderJob(params: EffectiveParams, run: StageRun, withSound: boolean): Promise<AudioVisual> {
      const { spatial_factor: sf, temporal_factor: tf, channels } = manifest.latent;
      const grid: VideoGrid = { channels, frames: Math.floor((params.num_frames - 1) / tf) + 1, height: params.height / sf, width: params.width / sf };
      const audioGrid: AudioGrid = {
        channels: audioVaeConfig.latentChannels,
        frames: audioLatentFrames(params.num_frames, params.fps, audioVaeConfig.sampleRate, audioVaeConfig.melHopLength),
        bins: audioVaeConfig.melBins / LTX2_AUDIO_COMPRESSION,
      };
      const tokens = videoTokens(grid);
      const scales = ltx2Scales(manifest, params.guidance);
      const cfg = guidancePasses(scales.video, scales.audio).cfg;
      const prompts = await run.stage("encoding_text", "encode_text_ms", () =>
        encodePrompts(cfg ? [params.negative_prompt, params.prompt] : [params.prompt]),
      );

      // One generator, in the reference's order: video noise, audio noise, then the decode noise.
      const nv = tokens * channels;
      const na = audioGrid.frames * audioFeatures(audioGrid);
      const decodeNoise = vae.timestepConditioning && decodeNoiseScale > 0;
      const noise = gaussianNoise(nv + na + (decodeNoise ? nv : 0), params.seed);
      const video = packVideo(noise.subarray(0, nv), grid);
      const audio = packAudio(noise.subarray(nv, nv + na), audioGrid);
      const samplers = ltx2Samplers(scheduler, params.steps, tokens);
      await run.stage("denoising", "denoise_ms", () =>
        jointDenoise({
          transformer, prompts, video, audio,
          dims: { videoTokens: tokens, videoChannels: channels, audioTokens: audioGrid.frames, audioFeatures: audioFeatures(audioGrid) },
          grid: { frames: grid.frames, height: grid.height, width: grid.width, fps: params.fps, audioFrames: audioGrid.frames },
          videoCoords: videoCoords(grid, { temporal: tf, spatial: sf }, params.fps),
          audioCoords: audioCoords(audioGrid.frames, LTX2_AUDIO_COMPRESSION, audioVaeConfig.melHopLength, audioVaeConfig.sampleRate),
          videoSampler: samplers.video, audioSampler: samplers.audio,
          videoScales: scales.video, audioScales: scales.audio,
          afterStep: run.step, preview: run.preview,
        }),
      );

      const size = { frames: params.num_frames, width: params.width, height: params.height };
      return run.stage("decoding", "decode_ms", async () => {
        let latent = unpackVideo(video, grid);
        if (decodeNoise) latent = addDecodeNoise(latent, noise.subarray(nv + na), decodeNoiseScale);
        const shape = { ...grid, tokens };
        const timestep = new ort.Tensor("float32", Float32Array.of(decodeTimestep), [1]);
        const decoded = await decodeToVideo(vaeDecoder, denormaliseVideo(latent, grid, vae.mean, vae.std, vae.scalingFactor), shape, size, { timestep });
        const frames = videoToRgb(decoded, size);
        if (!withSound) return { frames };
        const audioLatent = unpackAudio(denormaliseAudio(audio, audioVaeConfig.mean, audioVaeConfig.std), audioGrid);
        const samples = Math.round((params.num_frames / params.fps) * outputSampleRate);
        return { frames, audio: await decodeSound(audioVae, vocoder, audioLatent, audioGrid, outputSampleRate, samples) };
      });
    }

    return {
      render: async (params, run) => (await renderJob(params, run, false)).frames,
      // The latents are denoised jointly either way (the video attends to the sound); `audio: false` only
      // skips the audio VAE and the vocoder.
      renderWithSound: (params, run) => renderJob(params, run, params.audio !== false),
    };
  },
};
