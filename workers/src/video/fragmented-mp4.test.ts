import assert from "node:assert/strict";
import { copyFile, open, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { makeTempDir } from "@videosdgx/shared/testing";
import { GrowingMp4 } from "./fragmented-mp4.js";
import { decodeToRgb, probeVideo } from "./probe.js";

let dir: string;
let remove: () => Promise<void>;
before(async () => ({ dir, remove } = await makeTempDir("growing-mp4")));
after(() => remove());

const SETTINGS = { width: 64, height: 48, fps: 24, preset: "veryfast", crf: 18, threads: 1 };

/** 24 frames of a moving gradient, different per chunk. */
function chunkFrames(chunk: number): Uint8Array {
  const { width, height } = SETTINGS;
  const out = new Uint8Array(24 * width * height * 3);
  for (let f = 0; f < 24; f++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = ((f * height + y) * width + x) * 3;
        out[i] = (x * 4 + f * 3) % 256;
        out[i + 1] = (y * 5 + chunk * 60) % 256;
        out[i + 2] = 128;
      }
    }
  }
  return out;
}

/** The top-level box types of a file. */
async function topBoxes(file: string): Promise<string[]> {
  const buf = await readFile(file);
  const types: string[] = [];
  for (let at = 0; at + 8 <= buf.length; at += buf.readUInt32BE(at)) types.push(buf.toString("latin1", at + 4, at + 8));
  return types;
}

/** What a client downloading now gets: the ready bytes, as a file of their own. */
async function download(growing: string, bytes: number, name: string): Promise<string> {
  const file = path.join(dir, name);
  await copyFile(growing, file);
  const handle = await open(file, "r+");
  await handle.truncate(bytes);
  await handle.close();
  return file;
}

test("each appended chunk makes the ready bytes a playable file one chunk longer; finish leaves a faststart MP4", async () => {
  const out = path.join(dir, "job.mp4");
  const video = new GrowingMp4(out, SETTINGS);
  const growing = path.join(dir, video.state.file);
  const sent: Uint8Array[] = [];
  for (let c = 0; c < 3; c++) {
    sent.push(chunkFrames(c));
    const state = await video.append(sent[c]!);
    assert.equal(state.frames, 24 * (c + 1));
    const partial = await download(growing, state.bytes, `partial-${c}.mp4`);
    const info = await probeVideo(partial);
    assert.equal(info.frames, 24 * (c + 1));
    assert.equal(info.codec, "h264");
    // Decode times continue across chunks: the frames play at 24 fps, one after the other.
    assert.ok(Math.abs(info.durationS - (c + 1)) < 0.05, `duration ${info.durationS}`);
  }
  const encoded = await video.finish();
  const info = await probeVideo(out);
  assert.equal(info.frames, 72);
  assert.ok(info.faststart);
  assert.deepEqual((await topBoxes(out)).filter((t) => t === "moof"), [], "the final file is not fragmented");
  assert.equal(encoded.bytes, (await readFile(out)).length);
  assert.ok(!(await readdir(dir)).includes(video.state.file), "the growing file is removed");
  // The pixels are the frames sent, chunk by chunk in order: each decoded chunk is near its own frames
  // (x264 and 4:2:0 chroma) and far from the other chunks'.
  const decoded = await decodeToRgb(out, SETTINGS.width, SETTINGS.height);
  const size = sent[0]!.length;
  const meanDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;
  for (let c = 0; c < 3; c++) {
    const got = decoded.subarray(c * size, (c + 1) * size);
    const own = meanDiff(got, sent[c]!);
    assert.ok(own < 5, `chunk ${c}: mean deviation ${own}`);
    for (let o = 0; o < 3; o++) if (o !== c) assert.ok(meanDiff(got, sent[o]!) > 4 * own, `chunk ${c} looks like chunk ${o}`);
  }
});

test("a discarded video leaves no file", async () => {
  const video = new GrowingMp4(path.join(dir, "gone.mp4"), SETTINGS);
  await video.append(chunkFrames(0));
  await video.discard();
  assert.ok(!(await readdir(dir)).some((n) => n.startsWith("gone.mp4")));
});
