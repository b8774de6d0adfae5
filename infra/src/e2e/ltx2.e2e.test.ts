import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { generateTinyLtx2Model, OUTPUT_SAMPLE_RATE, tinyLtx2Manifest, tinyLtx2TargetFrames, tinyLtx2ToneHz } from "@videosdgx/workers/tinyltx2";
import { decodeAudio, decodeToRgb, probeStreams, probeVideo, toneFrequency } from "@videosdgx/workers/video";
import { Platform } from "./platform.js";

let p: Platform;
before(async () => {
  p = await Platform.start();
  await generateTinyLtx2Model(path.join(p.dataDir, "models", "tinyltx2"));
  await p.startWorker("tinyltx2");
});
after(() => p?.stop());

const [W, H, F, FPS] = [128, 96, 25, 24];
const JOB = { model: "tinyltx2", prompt: "a dog running on the beach at sunset", negative_prompt: "blurry", width: W, height: H, num_frames: F, steps: 8, seed: 9 };

// The manifest's guidance terms (diffusers' LTX2Pipeline defaults) with the request's guidance 3.
const g = tinyLtx2Manifest().sampling!.x0_guidance!;
const target = {
  prompt: JOB.prompt, negativePrompt: JOB.negative_prompt, numFrames: F, width: W, height: H, fps: FPS,
  video: { guidance: 3, stg: g.stg_scale, modality: g.modality_scale, rescale: g.guidance_rescale },
  audio: { guidance: g.audio_guidance_scale, stg: g.audio_stg_scale, modality: g.audio_modality_scale, rescale: g.audio_guidance_rescale },
};

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

async function run(body: Record<string, unknown>) {
  const res = await p.request("POST", "/v1/jobs", body);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const job = await p.waitForTerminal(res.body.id);
  assert.equal(job.status, "completed", JSON.stringify(job.error));
  return { submitted: res.body, job, file: path.join(p.outputsDir, `${job.id}.mp4`) };
}

test("a tinyltx2 job makes its analytic video with the analytic tone muxed as AAC", async () => {
  const { submitted, file } = await run(JOB);
  assert.equal(submitted.params.audio, true, "sound is on by default for a model with sound");
  const streams = await probeStreams(file);
  assert.deepEqual(streams.map((s) => `${s.type}:${s.codec}`), ["video:h264", "audio:aac"]);
  const [video, sound] = streams as [(typeof streams)[0], (typeof streams)[0]];
  assert.equal(sound.sampleRate, OUTPUT_SAMPLE_RATE);
  assert.ok(Math.abs(sound.durationS - video.durationS) <= 1 / FPS, `audio ${sound.durationS} s, video ${video.durationS} s`);
  const info = await probeVideo(file);
  assert.deepEqual({ frames: info.frames, fps: info.fps, w: info.width, h: info.height }, { frames: F, fps: FPS, w: W, h: H });

  const want = tinyLtx2ToneHz(target);
  const got = toneFrequency(await decodeAudio(file), sound.channels ?? 2, OUTPUT_SAMPLE_RATE);
  assert.ok(Math.abs(got / want - 1) < 0.02, `tone ${got.toFixed(1)} Hz, target ${want.toFixed(1)} Hz`);
  const own = meanAbsDiff(await decodeToRgb(file, W, H), tinyLtx2TargetFrames(target));
  assert.ok(own < 3, `mean abs error against the target is ${own.toFixed(2)} levels`);
});

test("audio: false gives the same video without an audio stream", async () => {
  const { submitted, file } = await run({ ...JOB, audio: false });
  assert.equal(submitted.params.audio, false);
  assert.deepEqual((await probeStreams(file)).map((s) => `${s.type}:${s.codec}`), ["video:h264"]);
  const own = meanAbsDiff(await decodeToRgb(file, W, H), tinyLtx2TargetFrames(target));
  assert.ok(own < 3, `mean abs error against the target is ${own.toFixed(2)} levels`);
});

test("asking a model without sound for audio is a 400 naming the field", async () => {
  const res = await p.request("POST", "/v1/jobs", { model: "tiny", prompt: "a cat", audio: true });
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error.code, "invalid_parameters");
  assert.deepEqual(res.body.error.details.map((d: any) => d.field), ["audio"]);
  assert.match(res.body.error.message, /audio/);
  const seed = await p.request("POST", "/v1/models/tiny/generate", { prompt: "a cat", audio: true });
  assert.equal(seed.status, 400);
  assert.deepEqual(seed.body.error.details.map((d: any) => d.field), ["audio"]);
  const wrongType = await p.request("POST", "/v1/jobs", { model: "tinyltx2", prompt: "a cat", audio: "yes" });
  assert.equal(wrongType.status, 400);
  assert.deepEqual(wrongType.body.error.details.map((d: any) => d.field), ["audio"]);
});
