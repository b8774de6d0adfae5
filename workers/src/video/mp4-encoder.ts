import { createHash, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { constants as fsConstants, createReadStream, openSync } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Socket } from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { posterFileOf, previewFileOf } from "@videosdgx/shared";
import ffmpeg from "fluent-ffmpeg";

const execFileAsync = promisify(execFile);

export interface X264Settings {
  width: number;
  height: number;
  fps: number;
  preset: string;
  crf: number;
  threads: number;
}

/** A sound track: interleaved float samples [samples, channels] in [-1, 1]. */
export interface Waveform {
  samples: Float32Array;
  channels: number;
  sampleRate: number;
}

export interface EncodeOptions extends X264Settings {
  outPath: string;
  signal?: AbortSignal;
  /** Muxed as AAC beside the video; fed to ffmpeg as raw f32le through a named pipe. */
  audio?: Waveform;
}

export interface EncodedVideo {
  bytes: number;
  sha256: string;
}

export class VideoEncodeError extends Error {
  constructor(
    reason: string,
    /** The last lines ffmpeg wrote to stderr: where its own explanation is. */
    readonly stderrTail: string,
  ) {
    super(stderrTail ? `ffmpeg failed: ${reason}: ${stderrTail}` : `ffmpeg failed: ${reason}`);
    this.name = "VideoEncodeError";
  }
}

export const PART_SUFFIX = ".part";
const CHUNK_BYTES = 1 << 20;
const STDERR_LINES = 10;

/**
 * ffmpeg options for raw rgb24 frames in, H.264 MP4 out. The bitexact flags and dropped metadata keep
 * version strings and timestamps out of the file, so the same frames always give the same bytes.
 * `-f mp4` is explicit because the temporary file's extension does not name the format.
 */
export function x264Args(s: X264Settings): { input: string[]; output: string[] } {
  return {
    input: ["-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${s.width}x${s.height}`, "-r", String(s.fps)],
    output: [
      "-map_metadata", "-1",
      "-c:v", "libx264",
      "-preset", s.preset,
      "-crf", String(s.crf),
      "-threads", String(s.threads),
      "-pix_fmt", "yuv420p",
      "-movflags", "+faststart",
      "-fflags", "+bitexact",
      "-flags:v", "+bitexact",
      "-f", "mp4",
    ],
  };
}

/** ffmpeg options for the second input, raw f32le PCM, and its AAC stream in the MP4. */
export function aacArgs(audio: Pick<Waveform, "channels" | "sampleRate">): { input: string[]; output: string[] } {
  return {
    input: ["-f", "f32le", "-ar", String(audio.sampleRate), "-ac", String(audio.channels)],
    output: ["-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "128k", "-flags:a", "+bitexact"],
  };
}

/** ffmpeg options for one raw rgb24 frame in, a JPEG out (the poster). */
function posterArgs(s: X264Settings): { input: string[]; output: string[] } {
  return {
    input: ["-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${s.width}x${s.height}`],
    output: ["-frames:v", "1", "-q:v", "3", "-f", "mjpeg"],
  };
}

/** The full argument list, in the order fluent-ffmpeg passes it, for running the ffmpeg CLI on a raw file. */
export function ffmpegCliArgs(s: X264Settings, input: string, output: string): string[] {
  const { input: inArgs, output: outArgs } = x264Args(s);
  return [...inArgs, "-i", input, "-y", ...outArgs, output];
}

let binary = "ffmpeg";

/** The ffmpeg binary encodes run, as the worker's environment check found it (FFMPEG_PATH or PATH). */
export function useFfmpegBinary(file: string): void {
  binary = file;
  ffmpeg.setFfmpegPath(file);
}

/** The binary useFfmpegBinary chose (plain `ffmpeg` from PATH until then), for encoders that spawn it themselves. */
export const ffmpegBinary = (): string => binary;

/** Feeds the frames in slices of the caller's buffer (no copy); piping applies backpressure. */
function* chunks(frames: Uint8Array): Generator<Buffer> {
  for (let off = 0; off < frames.length; off += CHUNK_BYTES) {
    yield Buffer.from(frames.buffer, frames.byteOffset + off, Math.min(CHUNK_BYTES, frames.length - off));
  }
}

function tail(stderr: string | null): string {
  const lines = (stderr ?? "").split("\n").map((l) => l.trimEnd()).filter(Boolean);
  return lines.slice(-STDERR_LINES).join("\n");
}

/**
 * Writes `data` into the named pipe ffmpeg reads its second input from. The pipe is opened non-blocking
 * (a blocking open would hold a libuv thread until ffmpeg opens its end), retried until ffmpeg has it
 * open or `stopped()` says ffmpeg is gone; the writes then go through the event loop with backpressure.
 * A write error (ffmpeg died) is left to ffmpeg's own error, which says why.
 */
async function feedPipe(fifo: string, data: Uint8Array, stopped: () => boolean): Promise<void> {
  let fd: number | undefined;
  while (fd === undefined) {
    if (stopped()) return;
    try {
      fd = openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENXIO") throw err;
      await delay(5);
    }
  }
  const socket = new Socket({ fd, readable: false, writable: true });
  await new Promise<void>((resolve) => {
    socket.on("error", () => resolve());
    socket.on("close", () => resolve());
    socket.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
}

/** A sound track and the named pipe ffmpeg reads it from. */
interface PipedAudio {
  track: Waveform;
  pipe: string;
}

/** One ffmpeg run: raw frames on stdin (and a sound track through its pipe) into `target`. */
function runFfmpeg(frames: Uint8Array, args: { input: string[]; output: string[] }, target: string, signal?: AbortSignal, audio?: PipedAudio): Promise<void> {
  const { input, output } = args;
  const source = Readable.from(chunks(frames), { objectMode: false });
  let ended = false;
  return new Promise<void>((resolve, reject) => {
    const command = ffmpeg(source).inputOptions(input);
    if (audio) {
      const aac = aacArgs(audio.track);
      command.input(audio.pipe).inputOptions(aac.input).outputOptions(aac.output);
      const samples = audio.track.samples;
      feedPipe(audio.pipe, new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength), () => ended).catch((err: Error) => {
        command.kill("SIGKILL");
        settle(err);
      });
    }
    command.outputOptions(output).output(target);
    const abort = () => command.kill("SIGKILL");
    const settle = (err?: Error) => {
      if (ended) return;
      ended = true;
      signal?.removeEventListener("abort", abort);
      source.destroy();
      if (signal?.aborted) reject(signal.reason);
      else if (err) reject(err);
      else resolve();
    };
    command
      // fluent-ffmpeg probes capabilities before spawning; an abort in that window is caught here.
      .on("start", () => {
        if (signal?.aborted) abort();
      })
      .on("error", (err: Error, _stdout: string | null, stderr: string | null) =>
        // fluent-ffmpeg appends its own stderr excerpt after ": "; the tail replaces it.
        settle(new VideoEncodeError(err.message.split(": ")[0] ?? err.message, tail(stderr))),
      )
      .on("end", () => settle());
    signal?.addEventListener("abort", abort, { once: true });
    command.run();
  });
}

/** fsync of a file (its data, before the rename) or a directory (the renamed entry), so a crash leaves no torn output. */
async function fsyncPath(p: string): Promise<void> {
  const handle = await open(p, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}

/** Node has no mkfifo: the coreutils tool makes the pipe, readable and writable by this user only. */
const makeFifo = (file: string) => execFileAsync("mkfifo", ["-m", "600", file]);

/** A uniquely named temporary file beside `file` (two attempts of one job never share one). */
export const partOf = (file: string, kind = "") => `${file}.${process.pid}-${randomBytes(4).toString("hex")}${kind}${PART_SUFFIX}`;

/**
 * Encodes raw rgb24 frames [F, H, W, 3] (and a sound track, as AAC) to an H.264 MP4 at `outPath`, then its
 * poster (the middle frame, JPEG) beside it (posterPathOf), each written to a temporary file and renamed
 * into place only when complete; a failed or aborted encode removes its temporary file. The job completes
 * only after both.
 */
export async function encodeMp4(frames: Uint8Array, opts: EncodeOptions): Promise<EncodedVideo> {
  const frameBytes = opts.width * opts.height * 3;
  if (frameBytes <= 0 || frames.length === 0 || frames.length % frameBytes !== 0) {
    throw new RangeError(`frames hold ${frames.length} bytes, not a whole number of ${opts.width}x${opts.height} rgb24 frames`);
  }
  const { audio } = opts;
  if (audio && (audio.channels < 1 || audio.samples.length === 0 || audio.samples.length % audio.channels !== 0)) {
    throw new RangeError(`audio holds ${audio.samples.length} samples, not a whole number of ${audio.channels}-channel frames`);
  }
  opts.signal?.throwIfAborted();
  const dir = path.dirname(opts.outPath);
  await mkdir(dir, { recursive: true });
  // A named pipe, not a file: the sound never touches the disk. Its name ends like a partial, so a killed
  // worker's pipe is swept with its partials.
  const audioPipe = audio ? partOf(opts.outPath, ".pcm") : undefined;
  let encoded: EncodedVideo;
  try {
    if (audioPipe) await makeFifo(audioPipe);
    const part = partOf(opts.outPath);
    try {
      await runFfmpeg(frames, x264Args(opts), part, opts.signal, audio && audioPipe ? { track: audio, pipe: audioPipe } : undefined);
      encoded = await publishEncoded(part, opts.outPath);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
  } finally {
    if (audioPipe) await rm(audioPipe, { force: true });
  }
  const middle = Math.floor(frames.length / frameBytes / 2) * frameBytes;
  await writePoster(frames.subarray(middle, middle + frameBytes), opts, opts.outPath, opts.signal);
  return encoded;
}

/** Moves a complete temporary MP4 into place durably, with the size and hash of the bytes moved. */
export async function publishEncoded(part: string, outPath: string): Promise<EncodedVideo> {
  await fsyncPath(part);
  // Measured before the rename: the answer describes these bytes even if another attempt replaces the file.
  const [{ size }, sha256] = await Promise.all([stat(part), sha256File(part)]);
  await rename(part, outPath);
  await fsyncPath(path.dirname(outPath));
  return { bytes: size, sha256 };
}

/** The poster of the video at `videoPath` (one rgb24 frame as a JPEG beside it), written like the video. */
export async function writePoster(frame: Uint8Array, s: X264Settings, videoPath: string, signal?: AbortSignal): Promise<void> {
  const target = posterPathOf(videoPath);
  const part = partOf(target);
  try {
    await runFfmpeg(frame, posterArgs(s), part, signal);
    await fsyncPath(part);
    await rename(part, target);
    await fsyncPath(path.dirname(target));
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
}

/** Where encodeMp4 writes the poster of the video at `videoPath`. */
export const posterPathOf = (videoPath: string) => path.join(path.dirname(videoPath), posterFileOf(path.basename(videoPath)));

/** Removes temporary files (video, sound pipe, poster and preview) a killed worker left for `finalName` in `dir`; a missing dir is fine. */
export async function removeStalePartials(dir: string, finalName: string): Promise<void> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  const prefixes = [`${finalName}.`, `${posterFileOf(finalName)}.`, `${previewFileOf(finalName.replace(/\.mp4$/, ""))}.`];
  const stale = names.filter((n) => prefixes.some((p) => n.startsWith(p)) && n.endsWith(PART_SUFFIX));
  await Promise.all(stale.map((n) => rm(path.join(dir, n), { force: true })));
}
