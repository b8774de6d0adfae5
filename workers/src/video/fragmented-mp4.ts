import { spawn } from "node:child_process";
import { mkdir, open, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FrameParts } from "./frame-parts.js";
import { ffmpegBinary, partOf, publishEncoded, VideoEncodeError, writePoster, x264Args, type EncodedVideo, type X264Settings } from "./mp4-encoder.js";

const STDERR_BYTES = 4000;

/** An ffmpeg process, started before its input is ready. */
interface FfmpegRun {
  /** Feeds `input` on stdin, part after part as they come (with backpressure); resolves with stdout at exit. */
  run(input?: AsyncIterable<Uint8Array>): Promise<Buffer>;
  /** Kills a run that is not wanted any more; its outcome is ignored. */
  cancel(): void;
}

/**
 * Starts ffmpeg with `args`. Until `run`, it neither holds the process open (its handles are unref'd)
 * nor has anyone waiting on it. Killed when `signal` aborts, or when its input fails (that failure is
 * then the answer).
 */
function startFfmpeg(args: string[], takesInput: boolean, signal?: AbortSignal): FfmpegRun {
  const child = spawn(ffmpegBinary(), args, { stdio: [takesInput ? "pipe" : "ignore", "pipe", "pipe"], signal });
  const handles = [child, child.stdin, child.stdout, child.stderr] as ({ ref(): void; unref(): void } | null)[];
  for (const h of handles) h?.unref();
  const out: Buffer[] = [];
  let stderr = "";
  let inputFailure: Error | undefined;
  child.stdout!.on("data", (b: Buffer) => out.push(b));
  child.stderr!.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-STDERR_BYTES)));
  const result = new Promise<Buffer>((resolve, reject) => {
    child.on("error", (err) => reject(signal?.aborted ? signal.reason : err));
    child.on("close", (code) => {
      if (signal?.aborted) reject(signal.reason);
      else if (inputFailure) reject(inputFailure);
      else if (code === 0) resolve(Buffer.concat(out));
      else reject(new VideoEncodeError(`exit code ${code}`, stderr.trim().split("\n").slice(-10).join("\n")));
    });
  });
  result.catch(() => {}); // a run cancelled, or dead before it was wanted, has no one waiting on it
  return {
    run(input) {
      for (const h of handles) h?.ref();
      if (input) {
        async function* bytes(): AsyncGenerator<Buffer> {
          try {
            for await (const part of input!) yield Buffer.from(part.buffer, part.byteOffset, part.length);
          } catch (err) {
            inputFailure = err as Error;
            child.kill("SIGKILL");
          }
        }
        // A failing ffmpeg closes its stdin: the exit code tells why.
        pipeline(Readable.from(bytes()), child.stdin!).catch(() => {});
      }
      return result;
    },
    cancel: () => void child.kill("SIGKILL"),
  };
}

/** The project's x264 settings, written as fragmented MP4 (an empty moov, then one moof+mdat per keyframe). */
function fragmentArgs(s: X264Settings): string[] {
  const { input, output } = x264Args(s);
  const movflags = output.indexOf("-movflags");
  const out = [...output];
  out[movflags + 1] = "frag_keyframe+empty_moov+default_base_moof";
  return [...input, "-i", "pipe:0", ...out, "pipe:1"];
}

interface Box {
  type: string;
  start: number;
  end: number;
}

function boxesOf(buf: Buffer, start = 0, end = buf.length): Box[] {
  const boxes: Box[] = [];
  for (let at = start; at + 8 <= end; ) {
    const size = buf.readUInt32BE(at);
    if (size < 8 || at + size > end) throw new Error(`malformed MP4 box at byte ${at}`);
    boxes.push({ type: buf.toString("latin1", at + 4, at + 8), start: at, end: at + size });
    at += size;
  }
  return boxes;
}

function child(buf: Buffer, box: Box, type: string): Box {
  const found = boxesOf(buf, box.start + 8, box.end).find((b) => b.type === type);
  if (!found) throw new Error(`MP4 box ${box.type} has no ${type}`);
  return found;
}

/** The media timescale of the (single) video track: moov > trak > mdia > mdhd. */
function timescaleOf(buf: Buffer, moov: Box): number {
  const mdhd = child(buf, child(buf, child(buf, moov, "trak"), "mdia"), "mdhd");
  const version = buf[mdhd.start + 8]!;
  return buf.readUInt32BE(mdhd.start + 8 + 4 + (version === 1 ? 16 : 8));
}

/**
 * Turns a separately encoded chunk's fragments into fragments of the growing file: each moof's sequence
 * number continues the file's, and its decode time (tfdt) is shifted by the frames already written.
 * In place on a copy of the moof.
 */
function shiftFragment(buf: Buffer, moof: Box, sequence: number, offset: bigint): void {
  const mfhd = child(buf, moof, "mfhd");
  buf.writeUInt32BE(sequence, mfhd.start + 12);
  const tfdt = child(buf, child(buf, moof, "traf"), "tfdt");
  const at = tfdt.start + 12;
  if (buf[tfdt.start + 8] === 1) buf.writeBigUInt64BE(buf.readBigUInt64BE(at) + offset, at);
  else {
    const time = BigInt(buf.readUInt32BE(at)) + offset;
    if (time > 0xffffffffn) throw new Error("fragment decode time exceeds a 32-bit tfdt");
    buf.writeUInt32BE(Number(time), at);
  }
}

export interface GrowingVideoState {
  /** The growing file's name, beside the final one. */
  file: string;
  /** Bytes of it that make a playable file (init segment and whole fragments). */
  bytes: number;
  frames: number;
}

/**
 * A video that can be downloaded and played while it is generated. Each chunk of frames is encoded on
 * its own (one short ffmpeg run, so its frames are playable as soon as it returns, not when the next
 * chunk starts a fragment) and its fragments are appended to one fragmented MP4 beside the final file.
 * `finish` remuxes that file to a faststart MP4 at the final path (copy, no re-encode) and renames it
 * into place; the growing file is removed after.
 */
export class GrowingMp4 {
  private handle: FileHandle | undefined;
  private sequence = 0;
  private decodeTime = 0n;
  private frameTicks: bigint | undefined;
  /** The poster: the middle frame of the first chunk, the first frames anyone can watch. */
  private posterFrame: Uint8Array | undefined;
  /**
   * The next chunk's encoder, started when the last chunk was in: its process start (about 60-90 ms of
   * CPU here) is then off the path from a chunk's last step to its download.
   */
  private spare: FfmpegRun | undefined;
  readonly state: GrowingVideoState;

  constructor(
    private readonly outPath: string,
    private readonly settings: X264Settings,
    private readonly signal?: AbortSignal,
  ) {
    // Named like encodeMp4's temporaries, so a killed attempt's file is removed by removeStalePartials.
    const file = path.basename(partOf(outPath, ".growing"));
    this.state = { file, bytes: 0, frames: 0 };
  }

  private get growingPath(): string {
    return path.join(path.dirname(this.outPath), this.state.file);
  }

  /**
   * Appends rgb24 frames [f, H, W, 3], whole or in parts that ffmpeg takes as they come; resolves when
   * they are in the file and counted in `state`.
   */
  async append(frames: Uint8Array | FrameParts): Promise<GrowingVideoState> {
    const frameBytes = this.settings.width * this.settings.height * 3;
    const whole = frames instanceof Uint8Array;
    const count = whole ? frames.length / frameBytes : frames.count;
    if (count <= 0 || !Number.isInteger(count)) {
      throw new RangeError(`frames hold ${whole ? `${frames.length} bytes` : `${count} frames`}, not a whole number of ${this.settings.width}x${this.settings.height} rgb24 frames`);
    }
    const encoder = this.spare ?? startFfmpeg(fragmentArgs(this.settings), true, this.signal);
    this.spare = undefined;
    const encoded = await encoder.run(this.checked(whole ? [frames] : frames.parts, count, frameBytes));
    const boxes = boxesOf(encoded);
    const parts: Buffer[] = [];
    if (!this.handle) {
      await mkdir(path.dirname(this.outPath), { recursive: true });
      this.handle = await open(this.growingPath, "w");
      const moov = boxes.find((b) => b.type === "moov");
      if (!moov) throw new Error("ffmpeg wrote no moov for the first chunk");
      const scale = timescaleOf(encoded, moov);
      if (scale % this.settings.fps !== 0) throw new Error(`video timescale ${scale} is not a whole number of ticks per frame at ${this.settings.fps} fps`);
      this.frameTicks = BigInt(scale / this.settings.fps);
      for (const b of boxes) if (b.type === "ftyp" || b.type === "moov") parts.push(encoded.subarray(b.start, b.end));
    }
    for (const b of boxes) {
      // Each run's init segment is the first one's (same settings); its mfra index is for its own file only.
      if (b.type === "moof") shiftFragment(encoded, b, ++this.sequence, this.decodeTime);
      if (b.type === "moof" || b.type === "mdat") parts.push(encoded.subarray(b.start, b.end));
    }
    const bytes = parts.reduce((n, p) => n + p.length, 0);
    await this.handle.writev(parts, this.state.bytes);
    this.decodeTime += BigInt(count) * this.frameTicks!;
    this.state.bytes += bytes;
    this.state.frames += count;
    this.spare = startFfmpeg(fragmentArgs(this.settings), true, this.signal);
    return { ...this.state };
  }

  /** `parts` passed through, checked to hold `count` whole frames; the poster frame kept on the way. */
  private async *checked(parts: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, count: number, frameBytes: number): AsyncGenerator<Uint8Array> {
    const middle = Math.floor(count / 2) * frameBytes;
    let at = 0;
    for await (const part of parts) {
      if (part.length % frameBytes !== 0 || at + part.length > count * frameBytes) throw new RangeError(`frame part of ${part.length} bytes at byte ${at} does not fit ${count} whole rgb24 frames`);
      if (!this.posterFrame && middle >= at && middle < at + part.length) this.posterFrame = part.slice(middle - at, middle - at + frameBytes);
      at += part.length;
      yield part;
    }
    if (at !== count * frameBytes) throw new RangeError(`frame parts held ${at / frameBytes} frames, not ${count}`);
  }

  /** The complete faststart MP4 at the final path (atomic rename), then the growing file removed. */
  async finish(): Promise<EncodedVideo> {
    if (!this.handle) throw new Error("no frames were appended");
    this.spare?.cancel();
    this.spare = undefined;
    await this.handle.sync();
    await this.handle.close();
    this.handle = undefined;
    const temp = partOf(this.outPath);
    try {
      const remux = ["-v", "error", "-i", this.growingPath, "-c", "copy", "-movflags", "+faststart", "-fflags", "+bitexact", "-f", "mp4", "-y", temp];
      await startFfmpeg(remux, false, this.signal).run();
      const encoded = await publishEncoded(temp, this.outPath);
      await rm(this.growingPath, { force: true });
      await writePoster(this.posterFrame!, this.settings, this.outPath, this.signal);
      return encoded;
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  /** Removes what was written (a failed or cancelled job). */
  async discard(): Promise<void> {
    this.spare?.cancel();
    this.spare = undefined;
    await this.handle?.close().catch(() => {});
    this.handle = undefined;
    await rm(this.growingPath, { force: true });
  }
}
