import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import ffmpeg from "fluent-ffmpeg";

export interface X264Settings {
  width: number;
  height: number;
  fps: number;
  preset: string;
  crf: number;
  threads: number;
}

export interface EncodeOptions extends X264Settings {
  outPath: string;
  signal?: AbortSignal;
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

const PART_SUFFIX = ".part";
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

/** The full argument list, in the order fluent-ffmpeg passes it, for running the ffmpeg CLI on a raw file. */
export function ffmpegCliArgs(s: X264Settings, input: string, output: string): string[] {
  const { input: inArgs, output: outArgs } = x264Args(s);
  return [...inArgs, "-i", input, "-y", ...outArgs, output];
}

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

function runFfmpeg(frames: Uint8Array, opts: EncodeOptions, target: string): Promise<void> {
  const { input, output } = x264Args(opts);
  const source = Readable.from(chunks(frames), { objectMode: false });
  const { signal } = opts;
  return new Promise<void>((resolve, reject) => {
    const command = ffmpeg(source).inputOptions(input).outputOptions(output).output(target);
    const abort = () => command.kill("SIGKILL");
    const settle = (err?: Error) => {
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

/**
 * Encodes raw rgb24 frames [F, H, W, 3] to an H.264 MP4 at `outPath`. ffmpeg writes a uniquely named
 * temporary file beside it (two attempts of one job never share one), renamed into place only when
 * complete; a failed or aborted encode removes it.
 */
export async function encodeMp4(frames: Uint8Array, opts: EncodeOptions): Promise<EncodedVideo> {
  const frameBytes = opts.width * opts.height * 3;
  if (frameBytes <= 0 || frames.length === 0 || frames.length % frameBytes !== 0) {
    throw new RangeError(`frames hold ${frames.length} bytes, not a whole number of ${opts.width}x${opts.height} rgb24 frames`);
  }
  opts.signal?.throwIfAborted();
  const dir = path.dirname(opts.outPath);
  await mkdir(dir, { recursive: true });
  const part = `${opts.outPath}.${process.pid}-${randomBytes(4).toString("hex")}${PART_SUFFIX}`;
  try {
    await runFfmpeg(frames, opts, part);
    return await publishEncoded(part, opts.outPath);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
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

/** Removes temporary files a killed worker left for `finalName` in `dir`; a missing dir is fine. */
export async function removeStalePartials(dir: string, finalName: string): Promise<void> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  const stale = names.filter((n) => n.startsWith(`${finalName}.`) && n.endsWith(PART_SUFFIX));
  await Promise.all(stale.map((n) => rm(path.join(dir, n), { force: true })));
}
