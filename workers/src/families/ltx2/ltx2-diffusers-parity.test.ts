import assert from "node:assert/strict";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { inspectModel, type EffectiveParams, type X0Guidance } from "@videosdgx/shared";
import { makeTempDir, sharedExport } from "@videosdgx/shared/testing";
import type { AudioVisual } from "../family.js";
import { exporterCli as python, levels, noStages } from "../diffusers-parity.js";
import { loadModel, type LoadedModel } from "../../runtime/loaded-model.js";
import { gaussianNoise } from "../../pipeline/noise.js";

/**
 * The proof that a real LTX-2 export makes the right video and sound: diffusers' own LTX-2 classes (Gemma 3,
 * connectors, the audio-video transformer, both VAEs, the vocoder) at tiny sizes with seeded weights
 * (exporter/: `replica --family ltx2`), exported by the project's exporter (the export pytest checks too,
 * made once per run: exporter/tests/shared_exports.py), run by our `ltx2` family
 * pipeline and by diffusers' LTX2Pipeline in PyTorch from the same initial latents (the platform's seeded
 * noise, video then audio, handed to diffusers as `latents=` and `audio_latents=`), the same prompts, steps
 * and guidance. Frames are compared as uint8, what both hand to the encoder; the waveform as floats.
 */
const PARAMS: EffectiveParams = {
  model: "ltxparity", prompt: "a red cat walking on the beach at sunset", negative_prompt: "blurry low quality",
  width: 64, height: 64, num_frames: 17, fps: 24, duration_s: 17 / 24, steps: 4, guidance: 3, seed: 7, audio: true,
};
// The replica's transformer has two blocks; STG perturbs the second (the shared export bakes it in).
const STG_BLOCKS = "1";
const LATENT = { channels: 8, frames: 3, height: 2, width: 2 };
const AUDIO = { channels: 4, frames: Math.round((17 / 24) * 25), bins: 4 };

/** Text CFG alone, and every pass LTX2Pipeline has (its defaults: STG, modality isolation, rescale, audio's own). */
const VARIANTS: Record<string, X0Guidance> = {
  cfg: {
    stg_scale: 0, modality_scale: 1, guidance_rescale: 0,
    audio_guidance_scale: PARAMS.guidance, audio_stg_scale: 0, audio_modality_scale: 1, audio_guidance_rescale: 0,
  },
  all: {
    stg_scale: 1, modality_scale: 3, guidance_rescale: 0.7,
    audio_guidance_scale: 7, audio_stg_scale: 1, audio_modality_scale: 3, audio_guidance_rescale: 0.7,
  },
};

interface Reference {
  frames: Uint8Array;
  waveform: Float32Array;
  channels: number;
}

let dir: string;
let remove: () => Promise<void>;
const models = new Map<string, LoadedModel>();
const references = new Map<string, Reference>();

async function reference(ckpt: string, name: string, g: X0Guidance): Promise<Reference> {
  const out = path.join(dir, `ref-${name}`);
  await python(
    "reference", "--family", "ltx2", "--from", ckpt, "--out", out, "--latents", path.join(dir, "noise.f32"),
    "--prompt", PARAMS.prompt, "--negative-prompt", PARAMS.negative_prompt, "--size", `${PARAMS.width}x${PARAMS.height}`,
    "--frames", String(PARAMS.num_frames), "--fps", String(PARAMS.fps), "--steps", String(PARAMS.steps),
    "--guidance", String(PARAMS.guidance), "--max-sequence-length", "32", "--stg-blocks", STG_BLOCKS,
    "--stg-scale", String(g.stg_scale), "--modality-scale", String(g.modality_scale), "--guidance-rescale", String(g.guidance_rescale),
    "--audio-guidance-scale", String(g.audio_guidance_scale), "--audio-stg-scale", String(g.audio_stg_scale),
    "--audio-modality-scale", String(g.audio_modality_scale), "--audio-guidance-rescale", String(g.audio_guidance_rescale),
  );
  const doc = JSON.parse(await readFile(path.join(out, "reference.json"), "utf8"));
  const wave = doc.tensors.waveform;
  const bytes = await readFile(path.join(out, wave.file));
  return {
    frames: new Uint8Array(await readFile(path.join(out, doc.tensors.frames_uint8.file))),
    waveform: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4),
    channels: wave.shape[0],
  };
}

before(async () => {
  ({ dir, remove } = await makeTempDir("ltx2parity"));
  const shared = await sharedExport("ltx2");
  const ckpt = shared.checkpoint;
  const exported = shared.dir;
  const modelsDir = path.join(dir, "models");
  await mkdir(modelsDir);
  const recorded = JSON.parse(await readFile(path.join(exported, "videosdgx.json"), "utf8"));
  assert.deepEqual(recorded.export.stg_blocks, STG_BLOCKS.split(",").map(Number), "the export's STG blocks are the reference's");
  // The platform's noise, drawn as the ltx2 family draws it: the video's, then the audio's.
  const n = LATENT.channels * LATENT.frames * LATENT.height * LATENT.width + AUDIO.channels * AUDIO.frames * AUDIO.bins;
  await writeFile(path.join(dir, "noise.f32"), gaussianNoise(n, PARAMS.seed));
  for (const [variant, guidance] of Object.entries(VARIANTS)) {
    const name = `ltxparity${variant}`;
    await cp(exported, path.join(modelsDir, name), { recursive: true });
    const manifestFile = path.join(modelsDir, name, "videosdgx.json");
    const manifest = JSON.parse(await readFile(manifestFile, "utf8"));
    manifest.name = name;
    manifest.sampling = { ...manifest.sampling, x0_guidance: guidance };
    await writeFile(manifestFile, JSON.stringify(manifest));
    const state = await inspectModel(modelsDir, name);
    assert.ok(state.installed, state.installed ? "" : state.reason);
    models.set(variant, await loadModel(modelsDir, name, {}));
    references.set(variant, await reference(ckpt, variant, guidance));
  }
});
after(async () => {
  for (const model of models.values()) await model.release();
  await remove?.();
});

/** Largest |ours - diffusers'| over the vocoder's samples (ours are interleaved and padded to the video's length). */
function waveDeviation(ours: AudioVisual["audio"], ref: Reference): { max: number; peak: number } {
  assert.ok(ours, "the job made sound");
  assert.equal(ours.channels, ref.channels);
  const length = ref.waveform.length / ref.channels;
  assert.ok(ours.samples.length / ours.channels >= length, "our track covers the vocoder's samples");
  let max = 0;
  let peak = 0;
  for (let c = 0; c < ref.channels; c++) {
    for (let s = 0; s < length; s++) {
      const want = ref.waveform[c * length + s]!;
      max = Math.max(max, Math.abs(ours.samples[s * ours.channels + c]! - want));
      peak = Math.max(peak, Math.abs(want));
    }
  }
  return { max, peak };
}

for (const variant of Object.keys(VARIANTS)) {
  describe(`guidance: ${variant === "cfg" ? "text CFG alone" : "CFG, STG, modality isolation and rescale (LTX2Pipeline's defaults)"}`, () => {
    test("our ltx2 pipeline on the exported folder makes diffusers' LTX2Pipeline frames and waveform", async (t) => {
      const ref = references.get(variant)!;
      const out = await models.get(variant)!.pipeline.renderWithSound!({ ...PARAMS, model: `ltxparity${variant}` }, noStages);
      assert.equal(out.frames.length, PARAMS.num_frames * PARAMS.height * PARAMS.width * 3);
      const { max, offByOne } = levels(out.frames, ref.frames);
      const wave = waveDeviation(out.audio, ref);
      t.diagnostic(`frames: largest difference ${max} level(s), ${(offByOne * 100).toFixed(3)}% one level off; waveform: largest |diff| ${wave.max.toExponential(2)} (peak ${wave.peak.toFixed(3)})`);
      // Both runs are float32 through the same graphs (each within ~1e-6 of its PyTorch module); what remains
      // can only move a value on a rounding boundary to the next level.
      assert.ok(max <= 1 && offByOne < 0.01, `max ${max} levels, ${(offByOne * 100).toFixed(2)}% of values one level off`);
      // The waveform is the vocoder's float output in [-1, 1], compared unrounded. Float32 on both sides
      // leaves ~1e-7 (measured: 1.2e-7, one float32 step at the peak); 1e-5 allows for another machine's
      // kernels, and is a third of a 16-bit sample step and 300x below what the guidance terms change
      // (the two variants' references differ by 3e-3), so a wrong mask, pass or statistic cannot hide in it.
      assert.ok(wave.max <= 1e-5, `waveform differs by ${wave.max}`);
      const [lo, hi] = ref.frames.reduce(([l, h], p) => [Math.min(l, p), Math.max(h, p)], [255, 0]);
      assert.ok(hi - lo > 30, `the reference video has structure (${lo}..${hi}), so agreeing means something`);
      assert.ok(wave.peak > 0.01, "the reference waveform is not silence");
    });
  });
}

test("the guidance terms matter: the two variants' references differ", () => {
  assert.ok(levels(references.get("cfg")!.frames, references.get("all")!.frames).max > 5);
});

test("and a different seed, so different noise, gives a different video", async () => {
  const frames = await models.get("cfg")!.pipeline.render({ ...PARAMS, model: "ltxparitycfg", seed: PARAMS.seed + 1 }, noStages);
  assert.ok(levels(frames, references.get("cfg")!.frames).max > 5);
});
