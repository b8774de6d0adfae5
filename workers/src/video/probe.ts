import { execFile } from "node:child_process";
import { open } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface VideoInfo {
  codec: string;
  pixFmt: string;
  width: number;
  height: number;
  frames: number;
  fps: number;
  durationS: number;
  /** The index (`moov`) precedes the media data, so players can start before the download ends. */
  faststart: boolean;
}

interface ProbeJson {
  streams?: {
    codec_name?: string;
    pix_fmt?: string;
    width?: number;
    height?: number;
    nb_read_frames?: string;
    r_frame_rate?: string;
  }[];
  format?: { duration?: string };
}

function rate(fraction: string | undefined): number {
  const [num, den] = (fraction ?? "").split("/").map(Number);
  return num !== undefined && den ? num / den : Number.NaN;
}

/** Which of `moov` and `mdat` comes first among the file's top-level boxes (ISO BMFF). */
async function moovBeforeMdat(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const { size: fileSize } = await handle.stat();
    const header = Buffer.alloc(16);
    let offset = 0;
    while (offset + 8 <= fileSize) {
      await handle.read(header, 0, 16, offset);
      const type = header.toString("latin1", 4, 8);
      if (type === "moov") return true;
      if (type === "mdat") return false;
      const size32 = header.readUInt32BE(0);
      // size 1: a 64-bit size follows the type; size 0: the box runs to the end of the file.
      const size = size32 === 1 ? Number(header.readBigUInt64BE(8)) : size32 === 0 ? fileSize - offset : size32;
      if (size < 8) break;
      offset += size;
    }
    return false;
  } finally {
    await handle.close();
  }
}

/** Stream facts of the first video stream; frames are counted by decoding, not read from headers. */
export async function probeVideo(file: string): Promise<VideoInfo> {
  const { stdout } = await run("ffprobe", [
    "-v", "error",
    "-count_frames",
    "-select_streams", "v:0",
    "-show_entries", "stream=codec_name,pix_fmt,width,height,nb_read_frames,r_frame_rate:format=duration",
    "-of", "json",
    file,
  ]);
  const info = JSON.parse(stdout) as ProbeJson;
  const stream = info.streams?.[0];
  if (!stream) throw new Error(`${file} has no video stream`);
  return {
    codec: stream.codec_name ?? "",
    pixFmt: stream.pix_fmt ?? "",
    width: stream.width ?? 0,
    height: stream.height ?? 0,
    frames: Number(stream.nb_read_frames ?? 0),
    fps: rate(stream.r_frame_rate),
    durationS: Number(info.format?.duration ?? Number.NaN),
    faststart: await moovBeforeMdat(file),
  };
}

/** Decodes every frame back to raw rgb24 [F, H, W, 3], for comparing pixels with what was encoded. */
export async function decodeToRgb(file: string, width: number, height: number): Promise<Uint8Array> {
  const { stdout } = await run(
    "ffmpeg",
    ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    { encoding: "buffer", maxBuffer: Number.POSITIVE_INFINITY },
  );
  const frameBytes = width * height * 3;
  if (stdout.length === 0 || stdout.length % frameBytes !== 0) {
    throw new Error(`${file} decoded to ${stdout.length} bytes, not whole ${width}x${height} rgb24 frames`);
  }
  return new Uint8Array(stdout.buffer, stdout.byteOffset, stdout.length);
}

export interface StreamInfo {
  type: string;
  codec: string;
  /** Audio streams: Hz and channel count. */
  sampleRate?: number;
  channels?: number;
  durationS: number;
}

/** Every stream of a file: its kind, codec, and for audio its sample rate and channels. */
export async function probeStreams(file: string): Promise<StreamInfo[]> {
  const { stdout } = await run("ffprobe", [
    "-v", "error",
    "-show_entries", "stream=codec_type,codec_name,sample_rate,channels,duration",
    "-of", "json",
    file,
  ]);
  const info = JSON.parse(stdout) as { streams?: { codec_type?: string; codec_name?: string; sample_rate?: string; channels?: number; duration?: string }[] };
  return (info.streams ?? []).map((s) => ({
    type: s.codec_type ?? "",
    codec: s.codec_name ?? "",
    ...(s.sample_rate ? { sampleRate: Number(s.sample_rate), channels: s.channels } : {}),
    durationS: Number(s.duration ?? Number.NaN),
  }));
}

/** Decodes the first audio stream to interleaved float samples at its own rate, for measuring the sound. */
export async function decodeAudio(file: string): Promise<Float32Array> {
  const { stdout } = await run("ffmpeg", ["-v", "error", "-i", file, "-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"], {
    encoding: "buffer",
    maxBuffer: Number.POSITIVE_INFINITY,
  });
  return new Float32Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + stdout.length));
}

/**
 * The frequency of a tone in one channel of interleaved samples, from its rising zero crossings: the
 * span between the first and last crossing over the periods it holds, interpolated between samples.
 * `skip` seconds are left out at each end (the codec's priming and fade).
 */
export function toneFrequency(samples: Float32Array, channels: number, sampleRate: number, skip = 0.05): number {
  const n = Math.floor(samples.length / channels);
  const at = (i: number) => samples[i * channels]!;
  const crossings: number[] = [];
  for (let i = Math.ceil(skip * sampleRate) + 1; i < n - skip * sampleRate; i++) {
    const [a, b] = [at(i - 1), at(i)];
    if (a < 0 && b >= 0) crossings.push(i - 1 + a / (a - b));
  }
  if (crossings.length < 2) return Number.NaN;
  return ((crossings.length - 1) * sampleRate) / (crossings[crossings.length - 1]! - crossings[0]!);
}
