import { spawn, type ChildProcess } from "node:child_process";
import { rename, rm, writeFile } from "node:fs/promises";
import { ffmpegBinary, partOf, VideoEncodeError } from "./mp4-encoder.js";

const STDERR_BYTES = 4000;
/** The longest side of a preview, in pixels: a thumbnail, not a frame. */
export const PREVIEW_MAX_SIDE = 256;

export interface PixelSize {
  width: number;
  height: number;
}

/** A preview's size: the latent frame's aspect scaled so its longer side is PREVIEW_MAX_SIDE, even numbers (4:2:0). */
export function previewSize(latent: PixelSize): PixelSize {
  const scale = PREVIEW_MAX_SIDE / Math.max(latent.width, latent.height);
  const even = (n: number) => Math.max(2, 2 * Math.round((n * scale) / 2));
  return { width: even(latent.width), height: even(latent.height) };
}

/**
 * The length of the first complete JPEG in `buf` (0 while it is incomplete): the segments are walked by
 * their lengths up to the scan, the scan's entropy-coded data up to its first marker that is neither a
 * stuffed 0xFF00 nor a restart marker, which ffmpeg's mjpeg follows with the end-of-image marker.
 */
export function jpegLength(buf: Buffer): number {
  if (buf.length < 2) return 0;
  if (buf[0] !== 0xff || buf[1] !== 0xd8) throw new Error("the preview encoder's output is not a JPEG stream");
  let at = 2;
  for (;;) {
    if (at + 2 > buf.length) return 0;
    const marker = buf[at + 1]!;
    if (buf[at] !== 0xff) throw new Error(`malformed JPEG: no marker at byte ${at}`);
    if (marker === 0xd9) return at + 2;
    if (at + 4 > buf.length) return 0;
    at += 2 + buf.readUInt16BE(at + 2);
    if (marker !== 0xda) continue;
    for (;;) {
      const ff = buf.indexOf(0xff, at);
      if (ff < 0 || ff + 1 >= buf.length) return 0;
      const next = buf[ff + 1]!;
      at = ff;
      if (next !== 0x00 && (next < 0xd0 || next > 0xd7)) break;
      at = ff + 2;
    }
  }
}

/**
 * How long an encoder without a frame is kept: past the gaps between one job's previews (a few steps of
 * seconds each on a GPU) and on to the next job's. A longer gap only costs a new start.
 */
const IDLE_CLOSE_MS = 600_000;

/**
 * One ffmpeg turning rgb24 frames of one latent size into JPEGs of previewSize, read back from its stdout
 * in order. Kept across jobs (see PreviewJpegs): starting ffmpeg costs 50-90 ms of CPU, a small frame's
 * encode well under 1 ms. While no frame is in it, it keeps no process alive.
 */
class JpegEncoder {
  private readonly child: ChildProcess;
  private stdout: Buffer = Buffer.alloc(0);
  private stderr = "";
  /** Frames written whose JPEG has not come back yet, oldest first. */
  private readonly waiting: { resolve: (jpeg: Buffer) => void; reject: (err: Error) => void }[] = [];
  private readonly exited: Promise<void>;
  private idle: NodeJS.Timeout | undefined;
  private ending = false;
  failure: Error | undefined;

  constructor(readonly latent: PixelSize) {
    const { width, height } = previewSize(latent);
    this.child = spawn(ffmpegBinary(), [
      "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${latent.width}x${latent.height}`, "-i", "pipe:0",
      "-vf", `scale=${width}:${height}:flags=bilinear`, "-pix_fmt", "yuvj420p", "-q:v", "4", "-threads", "1",
      "-flush_packets", "1", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1",
    ], { stdio: ["pipe", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => {
      // A spawn that failed (no ffmpeg, no file descriptors left) may never close: its error ends it.
      this.child.on("error", (err) => {
        this.fail(err);
        resolve();
      });
      this.child.on("close", (code, signal) => {
        this.fail(new VideoEncodeError(`preview encoder exited (${signal ?? `code ${code}`})`, this.stderr.trim().split("\n").slice(-10).join("\n")));
        resolve();
      });
    });
    this.child.stdout?.on("data", (b: Buffer) => this.received(b));
    this.child.stderr?.on("data", (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-STDERR_BYTES)));
    this.child.stdin?.on("error", () => {}); // ffmpeg gone: its exit says why
    this.hold(false);
  }

  /** Whether the encoder keeps the process alive: only while a frame is in it. */
  private hold(busy: boolean): void {
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as ({ ref(): void; unref(): void } | null)[];
    for (const h of handles) if (busy) h?.ref(); else h?.unref();
    clearTimeout(this.idle);
    this.idle = busy ? undefined : setTimeout(() => void this.close(), IDLE_CLOSE_MS).unref();
  }

  private received(bytes: Buffer): void {
    this.stdout = this.stdout.length === 0 ? bytes : Buffer.concat([this.stdout, bytes]);
    for (let n = jpegLength(this.stdout); n > 0; n = jpegLength(this.stdout)) {
      const jpeg = this.stdout.subarray(0, n);
      this.stdout = this.stdout.subarray(n);
      this.waiting.shift()?.resolve(jpeg);
      if (this.waiting.length === 0 && !this.ending) this.hold(false);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    clearTimeout(this.idle);
    this.idle = undefined;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }

  /** One frame [H, W, 3] of the latent's size as a JPEG. */
  encode(rgb: Uint8Array): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.ending) return Promise.reject(new Error("the preview encoder is closing"));
    const stdin = this.child.stdin;
    if (!stdin) return Promise.reject(new VideoEncodeError("the preview encoder has no input pipe (its start failed)", this.stderr));
    if (this.waiting.length === 0) this.hold(true);
    return new Promise<Buffer>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      stdin.write(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength));
    });
  }

  /** Whether it takes frames: not once it failed or is ending. */
  get usable(): boolean {
    return !this.failure && !this.ending;
  }

  /** Ends ffmpeg once the frames written are out. */
  async close(): Promise<void> {
    this.ending = true;
    this.hold(true); // whoever awaits the exit waits for it
    this.child.stdin?.end();
    await this.exited;
  }
}

/** The process's encoder, for the size of the last job that made previews. */
let encoder: JpegEncoder | undefined;

/** An encoder for `latent`: the running one if it has that size and works, else a new one (the old one ended). */
function encoderFor(latent: PixelSize): JpegEncoder {
  if (encoder?.usable && encoder.latent.width === latent.width && encoder.latent.height === latent.height) return encoder;
  void encoder?.close();
  encoder = new JpegEncoder(latent);
  return encoder;
}

/**
 * One job's previews: rgb24 frames of the latent's size, each scaled up to previewSize and encoded as a
 * JPEG by the process's encoder (one ffmpeg kept from job to job while the size stays: its start is not
 * paid by every job), then written to `target` through a temporary file and a rename, so a reader never
 * sees half a file. A worker runs one job at a time, so one encoder serves them in turn.
 */
export class PreviewJpegs {
  constructor(
    private readonly latent: PixelSize,
    private readonly target: string,
  ) {}

  /** Has the encoder started now, before sampling, rather than at the first preview. */
  warm(): void {
    try {
      encoderFor(this.latent);
    } catch {
      // ffmpeg could not be started: the first write says why, and the job goes on without previews.
    }
  }

  /** Encodes one frame [H, W, 3] of the latent's size; resolves once its JPEG is at the target path. */
  async write(rgb: Uint8Array): Promise<void> {
    const jpeg = await encoderFor(this.latent).encode(rgb);
    const part = partOf(this.target);
    try {
      await writeFile(part, jpeg);
      await rename(part, this.target);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
  }
}

/** Ends the process's encoder (a worker stopping; a test or bench done with previews). */
export async function closePreviewEncoder(): Promise<void> {
  const e = encoder;
  encoder = undefined;
  await e?.close();
}
