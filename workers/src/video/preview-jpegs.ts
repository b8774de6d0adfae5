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
 * One job's previews: a single ffmpeg kept running for the job (started at the first frame), rgb24 frames
 * of the latent's size in, each scaled up to previewSize and encoded as a JPEG read back from its stdout,
 * then written to `target` through a temporary file and a rename, so a reader never sees half a file.
 * One process per job, not per preview: starting ffmpeg costs far more than a small frame's encode.
 */
export class PreviewJpegs {
  private child: ChildProcess | undefined;
  private stdout: Buffer = Buffer.alloc(0);
  private stderr = "";
  /** Frames written whose JPEG has not come back yet, oldest first. */
  private readonly waiting: { resolve: (jpeg: Buffer) => void; reject: (err: Error) => void }[] = [];
  private exited: Promise<void> | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly latent: PixelSize,
    private readonly target: string,
  ) {}

  private start(): ChildProcess {
    const { width, height } = previewSize(this.latent);
    const child = spawn(ffmpegBinary(), [
      "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${this.latent.width}x${this.latent.height}`, "-i", "pipe:0",
      "-vf", `scale=${width}:${height}:flags=bilinear`, "-pix_fmt", "yuvj420p", "-q:v", "4", "-threads", "1",
      "-flush_packets", "1", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1",
    ], { stdio: ["pipe", "pipe", "pipe"] });
    child.stdout!.on("data", (b: Buffer) => this.received(b));
    child.stderr!.on("data", (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-STDERR_BYTES)));
    child.stdin!.on("error", () => {}); // ffmpeg gone: its exit says why
    this.exited = new Promise((resolve) => {
      child.on("error", (err) => this.fail(err));
      child.on("close", (code, signal) => {
        if (code !== 0 || this.waiting.length > 0) {
          this.fail(new VideoEncodeError(`preview encoder exited (${signal ?? `code ${code}`})`, this.stderr.trim().split("\n").slice(-10).join("\n")));
        }
        resolve();
      });
    });
    return child;
  }

  private received(bytes: Buffer): void {
    this.stdout = this.stdout.length === 0 ? bytes : Buffer.concat([this.stdout, bytes]);
    for (let n = jpegLength(this.stdout); n > 0; n = jpegLength(this.stdout)) {
      const jpeg = this.stdout.subarray(0, n);
      this.stdout = this.stdout.subarray(n);
      this.waiting.shift()?.resolve(jpeg);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }

  /** Encodes one frame [H, W, 3] of the latent's size; resolves once its JPEG is at the target path. */
  async write(rgb: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    this.child ??= this.start();
    const jpeg = await new Promise<Buffer>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child!.stdin!.write(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength));
    });
    const part = partOf(this.target);
    try {
      await writeFile(part, jpeg);
      await rename(part, this.target);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
  }

  /** Ends the encoder once the frames written are out; a failed encoder is only reaped. */
  async close(): Promise<void> {
    this.child?.stdin!.end();
    await this.exited;
  }
}
