import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { WAN_NEGATIVE_PROMPT } from "@videosdgx/shared";
import { generateTinyWanModel, tinyWanTargetFrames } from "@videosdgx/workers/tinywan";
import { decodeToRgb, probeVideo } from "@videosdgx/workers/video";
import { meanAbsDiff } from "./frame-diff.js";
import { Platform } from "./platform.js";

let p: Platform;
before(async () => {
  p = await Platform.start();
  const models = path.join(p.dataDir, "models");
  await generateTinyWanModel(path.join(models, "tinywan"));
  // A wan folder without its VAE config: listed, not installed, and the reason names the file.
  await generateTinyWanModel(path.join(models, "novae"), { name: "novae" });
  await rm(path.join(models, "novae", "vae_decoder", "config.json"));
  await p.startWorker("tinywan");
});
after(() => p?.stop());

test("a tinywan job runs the wan family end to end and matches its analytic target", async () => {
  const prompt = "a golden eagle flying over snowy mountains";
  const res = await p.request("POST", "/v1/jobs", { model: "tinywan", prompt, width: 96, height: 64, num_frames: 13, steps: 8, seed: 5 });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  // No negative prompt given: the manifest's (the reference pipeline's) is filled in and shown.
  assert.equal(res.body.params.negative_prompt, WAN_NEGATIVE_PROMPT);
  assert.equal(res.body.params.guidance, 5);

  const job = await p.waitForTerminal(res.body.id);
  assert.equal(job.status, "completed", JSON.stringify(job.error));
  const file = path.join(p.outputsDir, `${job.id}.mp4`);
  const info = await probeVideo(file);
  assert.deepEqual(
    { codec: info.codec, w: info.width, h: info.height, frames: info.frames, fps: info.fps },
    { codec: "h264", w: 96, h: 64, frames: 13, fps: 16 },
  );
  // UniPC with guidance through the float16 transformer: what is left is H.264 and 4:2:0 loss.
  const decoded = await decodeToRgb(file, 96, 64);
  const target = (negativePrompt: string, ownPrompt = prompt) =>
    tinyWanTargetFrames({ prompt: ownPrompt, negativePrompt, guidance: 5, numFrames: 13, width: 96, height: 64 });
  const own = meanAbsDiff(decoded, target(WAN_NEGATIVE_PROMPT));
  assert.ok(own < 3, `mean abs error against the target is ${own.toFixed(2)} levels`);
  const other = meanAbsDiff(decoded, target(WAN_NEGATIVE_PROMPT, "a blue ocean wave at night"));
  assert.ok(other > 4 * own + 5, `another prompt's target is only ${other.toFixed(2)} levels away`);
  const noNegative = meanAbsDiff(decoded, target(""));
  assert.ok(noNegative > 4 * own + 3, `the target without the default negative prompt is only ${noNegative.toFixed(2)} levels away`);
});

test("a folder that breaks its family's contract is listed as not installed, naming the file; jobs get 503", async () => {
  const models = await p.request("GET", "/v1/models");
  const byName = Object.fromEntries(models.body.models.map((m: any) => [m.name, m]));
  assert.equal(byName.tinywan.installed, true);
  assert.equal(byName.novae.installed, false);
  assert.equal(byName.novae.reason, `missing file vae_decoder/config.json; download or export the model again into ${path.join(p.dataDir, "models", "novae")}`);
  const res = await p.request("POST", "/v1/jobs", { model: "novae", prompt: "x" });
  assert.equal(res.status, 503);
  assert.match(res.body.error.message, /vae_decoder\/config\.json/);
});
