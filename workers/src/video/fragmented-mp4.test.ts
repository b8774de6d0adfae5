import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, open, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
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

/** `frames` handed over in parts of `sizes` frames each, as a converter hands them. */
function inParts(frames: Uint8Array, sizes: number[]): { count: number; parts: AsyncIterable<Uint8Array> } {
  const frameBytes = SETTINGS.width * SETTINGS.height * 3;
  return {
    count: frames.length / frameBytes,
    parts: (async function* () {
      let at = 0;
      for (const n of sizes) {
        yield frames.subarray(at, at + n * frameBytes);
        at += n * frameBytes;
      }
    })(),
  };
}

test("frames appended in parts as they come make the same file as the whole chunk at once", async () => {
  const whole = new GrowingMp4(path.join(dir, "whole.mp4"), SETTINGS);
  const parted = new GrowingMp4(path.join(dir, "parted.mp4"), SETTINGS);
  for (let c = 0; c < 2; c++) {
    await whole.append(chunkFrames(c));
    const state = await parted.append(inParts(chunkFrames(c), [4, 4, 4, 4, 4, 3, 1]));
    assert.equal(state.frames, 24 * (c + 1));
  }
  const [a, b] = await Promise.all([whole.finish(), parted.finish()]);
  assert.equal(b.sha256, a.sha256);
});

test("parts that are not the announced whole frames fail the append and leave the ready bytes as they were", async () => {
  const video = new GrowingMp4(path.join(dir, "short.mp4"), SETTINGS);
  const first = await video.append(chunkFrames(0));
  const frameBytes = SETTINGS.width * SETTINGS.height * 3;
  const short = { count: 24, parts: inParts(chunkFrames(1), [4, 4]).parts };
  await assert.rejects(video.append(short), /frame parts held 8 frames, not 24/);
  const torn = { count: 24, parts: (async function* () { yield chunkFrames(1).subarray(0, frameBytes + 5); })() };
  await assert.rejects(video.append(torn), /does not fit 24 whole rgb24 frames/);
  const failing = { count: 24, parts: (async function* () { yield chunkFrames(1).subarray(0, frameBytes); throw new Error("converter died"); })() };
  await assert.rejects(video.append(failing), /converter died/);
  assert.deepEqual(video.state, first);
  await video.discard();
});

/** The ffmpeg processes this test process has started and not yet reaped. */
async function ffmpegChildren(): Promise<number> {
  const { stdout } = await promisify(execFile)("ps", ["-o", "comm=", "--ppid", String(process.pid)]).catch(() => ({ stdout: "" }));
  return stdout.split("\n").filter((c) => c.trim() === "ffmpeg").length;
}

test("the encoder started ahead for the next chunk is stopped by finish and by discard", async () => {
  for (const end of ["finish", "discard"] as const) {
    const video = new GrowingMp4(path.join(dir, `ahead-${end}.mp4`), SETTINGS);
    await video.append(chunkFrames(0));
    assert.equal(await ffmpegChildren(), 1, "one encoder waits for the next chunk");
    await video[end]();
    let left = await ffmpegChildren();
    for (let i = 0; i < 100 && left > 0; i++, left = await ffmpegChildren()) await delay(20); // a killed child is reaped soon after
    assert.equal(left, 0, `after ${end}`);
  }
});
