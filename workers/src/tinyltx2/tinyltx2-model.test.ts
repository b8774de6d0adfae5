import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import ort from "onnxruntime-node";
import { inspectModel, type EffectiveParams } from "@videosdgx/shared";
import { ltx2Scales } from "../families/ltx2/ltx2-family.js";
import { generateVideo } from "../pipeline/generate-video.js";
import { frameDiff, generatedModelFixture, timedRun } from "../runtime/model-fixture.js";
import { decodeAudio, decodeToRgb, probeStreams, probeVideo, toneFrequency } from "../video/probe.js";
import { DataType, GraphBuilder } from "../onnx/graph-builder.js";
import { generateTinyLtx2Model, isTinyLtx2ModelCurrent, tinyLtx2Manifest } from "./generate.js";
import { tinyLtx2TargetFrames, tinyLtx2ToneHz, type TinyLtx2Target } from "./reference.js";
import { OUTPUT_SAMPLE_RATE } from "./spec.js";

const fixture = generatedModelFixture("tinyltx2", (dir) => generateTinyLtx2Model(dir));

const PARAMS: EffectiveParams = {
  model: "tinyltx2", prompt: "a red fox running through a snowy forest", negative_prompt: "blurry, dark",
  width: 128, height: 96, num_frames: 25, fps: 24, duration_s: 25 / 24, steps: 8, guidance: 3, seed: 3, audio: true,
};

const manifest = tinyLtx2Manifest();
const targetOf = (p: EffectiveParams, m = manifest): TinyLtx2Target => ({
  prompt: p.prompt, negativePrompt: p.negative_prompt, numFrames: p.num_frames, width: p.width, height: p.height, fps: p.fps,
  ...ltx2Scales(m, p.guidance),
});

test("the generated folder is a complete, current ltx2-family model with float16 joint latents", async () => {
  const state = await inspectModel(fixture.dir, "tinyltx2");
  assert.ok(state.installed, state.installed ? "" : state.reason);
  assert.equal(state.manifest.family, "ltx2");
  assert.equal(state.manifest.capabilities.audio, true);
  assert.ok(await isTinyLtx2ModelCurrent(path.join(fixture.dir, "tinyltx2")));
  const session = await ort.InferenceSession.create(path.join(fixture.dir, "tinyltx2/transformer/model.onnx"));
  const types = Object.fromEntries([...session.inputMetadata, ...session.outputMetadata].map((m) => [m.name, m.isTensor ? m.type : "?"]));
  await session.release();
  assert.equal(types.hidden_states, "float16");
  assert.equal(types.audio_hidden_states, "float16");
  assert.equal(types.isolate_modalities, "bool");
  assert.equal(types.sample, "float16");
  assert.equal(types.audio_sample, "float16");
});

test("all guidance passes in x0 space (CFG, STG, modality, rescale) land the video on its analytic target", async () => {
  const model = await fixture.load("tinyltx2");
  const frames = await model.pipeline.render(PARAMS, timedRun());
  const { max, mean } = frameDiff(frames, tinyLtx2TargetFrames(targetOf(PARAMS)));
  // Left over: float16 rounding of the latents at the transformer's boundary.
  assert.ok(max <= 2 && mean < 0.5, `max ${max}, mean ${mean.toFixed(3)} levels off the target`);
  const other = frameDiff(frames, tinyLtx2TargetFrames(targetOf({ ...PARAMS, prompt: "a blue ocean wave at night" })));
  assert.ok(other.mean > 8, `another prompt's target is only ${other.mean.toFixed(2)} levels away`);
  // Each guidance term moves the picture: a target without any of them is far from this video.
  const plain = { ...manifest, sampling: { ...manifest.sampling, x0_guidance: { stg_scale: 0, modality_scale: 1, guidance_rescale: 0, audio_guidance_scale: 1, audio_stg_scale: 0, audio_modality_scale: 1, audio_guidance_rescale: 0 } } };
  const unguided = frameDiff(frames, tinyLtx2TargetFrames(targetOf({ ...PARAMS, guidance: 1 }, plain)));
  assert.ok(unguided.mean > 4, `the unguided target is only ${unguided.mean.toFixed(2)} levels away`);
});

test("the manifest's guidance terms are the ones applied (STG and modality off, no rescale)", async () => {
  const terms = { stg_scale: 0, modality_scale: 1, guidance_rescale: 0, audio_guidance_scale: 5, audio_stg_scale: 0, audio_modality_scale: 1, audio_guidance_rescale: 0 };
  await fixture.variant("tinyltx2cfg", async (folder) => {
    const file = path.join(folder, "videosdgx.json");
    const m = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, JSON.stringify({ ...m, sampling: { ...m.sampling, x0_guidance: terms } }));
  });
  const p = { ...PARAMS, model: "tinyltx2cfg" };
  const own = { ...manifest, sampling: { ...manifest.sampling, x0_guidance: terms } };
  const frames = await (await fixture.load("tinyltx2cfg")).pipeline.render(p, timedRun());
  assert.ok(frameDiff(frames, tinyLtx2TargetFrames(targetOf(p, own))).max <= 2, "matches the CFG-only target");
  assert.ok(frameDiff(frames, tinyLtx2TargetFrames(targetOf(p))).mean > 2, "and not the one with every term");
});

test("the sound is the analytic tone, as long as the video, and its pitch follows the prompt", async () => {
  const model = await fixture.load("tinyltx2");
  const { frames, audio } = await model.pipeline.renderWithSound!(PARAMS, timedRun());
  assert.ok(frames.length > 0 && audio);
  assert.equal(audio.sampleRate, OUTPUT_SAMPLE_RATE);
  assert.equal(audio.channels, 2);
  assert.equal(audio.samples.length / 2, Math.round((25 / 24) * OUTPUT_SAMPLE_RATE));
  const want = tinyLtx2ToneHz(targetOf(PARAMS));
  const got = toneFrequency(audio.samples, 2, audio.sampleRate);
  assert.ok(Math.abs(got / want - 1) < 0.005, `tone ${got.toFixed(2)} Hz, target ${want.toFixed(2)} Hz`);
  const otherHz = tinyLtx2ToneHz(targetOf({ ...PARAMS, prompt: "a blue ocean wave at night" }));
  assert.ok(Math.abs(otherHz / want - 1) > 0.05, `another prompt's tone (${otherHz.toFixed(1)} Hz) is close to ${want.toFixed(1)} Hz`);
});

const VIDEO = (outputsDir: string) => ({ outputsDir, preset: "veryfast", crf: 18, threads: 2 });
const hooks = { progress: async () => {}, signal: new AbortController().signal };

test("the MP4 holds one h264 and one aac stream; the decoded AAC is the tone; the video is its target", async () => {
  const model = await fixture.load("tinyltx2");
  await generateVideo(model, PARAMS, "sound.mp4", VIDEO(fixture.dir), hooks, {});
  const file = path.join(fixture.dir, "sound.mp4");
  const streams = await probeStreams(file);
  assert.deepEqual(streams.map((s) => `${s.type}:${s.codec}`), ["video:h264", "audio:aac"]);
  const [video, sound] = streams as [typeof streams[0], typeof streams[0]];
  assert.equal(sound.sampleRate, OUTPUT_SAMPLE_RATE);
  assert.ok(Math.abs(sound.durationS - video.durationS) <= 1 / PARAMS.fps, `audio ${sound.durationS} s, video ${video.durationS} s`);
  const info = await probeVideo(file);
  assert.equal(info.frames, 25);
  assert.ok(info.faststart);
  const want = tinyLtx2ToneHz(targetOf(PARAMS));
  const got = toneFrequency(await decodeAudio(file), 2, OUTPUT_SAMPLE_RATE);
  assert.ok(Math.abs(got / want - 1) < 0.02, `decoded tone ${got.toFixed(2)} Hz, target ${want.toFixed(2)} Hz`);
  const decoded = frameDiff(await decodeToRgb(file, PARAMS.width, PARAMS.height), tinyLtx2TargetFrames(targetOf(PARAMS)));
  assert.ok(decoded.mean < 3, `decoded video is ${decoded.mean.toFixed(2)} levels off its target`);
});

test("audio: false gives the same video without an audio stream, and never runs the audio graphs", async () => {
  // A vocoder that fails whenever it runs: the job can only succeed if the audio graphs are skipped.
  await fixture.variant("tinyltx2novoc", async (folder) => {
    const g = new GraphBuilder("broken_vocoder");
    const mel = g.input("hidden_states", DataType.FLOAT, [1, 2, "mel_frames", 16]);
    g.output(g.op("Reshape", [mel, g.ints([7, 5, -1])]), "waveform", DataType.FLOAT, [1, 2, "samples"]);
    await writeFile(path.join(folder, "vocoder/model.onnx"), g.build());
  });
  const model = await fixture.load("tinyltx2novoc");
  const p = { ...PARAMS, model: "tinyltx2novoc", audio: false };
  await generateVideo(model, p, "silent.mp4", VIDEO(fixture.dir), hooks, {});
  const streams = await probeStreams(path.join(fixture.dir, "silent.mp4"));
  assert.deepEqual(streams.map((s) => `${s.type}:${s.codec}`), ["video:h264"]);
  await assert.rejects(generateVideo(model, { ...p, audio: true }, "broken.mp4", VIDEO(fixture.dir), hooks, {}), /Reshape|reshape|shape/);
  // Sound or not, the latents were denoised jointly: the frames are the same.
  const silent = await model.pipeline.renderWithSound!(p, timedRun());
  assert.equal(silent.audio, undefined);
  assert.deepEqual(silent.frames, await (await fixture.load("tinyltx2")).pipeline.render(PARAMS, timedRun()));
});
