import { spawn } from "node:child_process";
import { JobFailure } from "@videosdgx/shared";
import { ffmpegBinary } from "../video/mp4-encoder.js";

/** How an image becomes a grid of pixels: an ffmpeg filter chain ending at exactly width x height. */
export interface ImageFit {
  width: number;
  height: number;
  filter: string;
}

const SWS = "accurate_rnd+full_chroma_int";

/**
 * Cover: scaled (Lanczos, as diffusers' VaeImageProcessor resamples) until both sides reach the size,
 * then centre-cropped to it. For an image of the job's aspect ratio this is diffusers' plain resize.
 */
export const coverFit = (width: number, height: number): ImageFit => ({
  width, height,
  filter: `scale=${width}:${height}:force_original_aspect_ratio=increase:flags=lanczos+${SWS},crop=${width}:${height}`,
});

/**
 * CLIPImageProcessor's geometry: the shorter side to `shortestEdge` (bicubic, the longer one truncated
 * as transformers computes it), then a centred crop.
 */
export const shortestEdgeFit = (shortestEdge: number, cropWidth: number, cropHeight: number): ImageFit => {
  const s = shortestEdge;
  return {
    width: cropWidth, height: cropHeight,
    filter: `scale=w='if(lte(iw,ih),${s},trunc(${s}*iw/ih))':h='if(lte(iw,ih),trunc(${s}*ih/iw),${s})':flags=bicubic+${SWS},crop=${cropWidth}:${cropHeight}`,
  };
};

const STDERR_TAIL = 400;

/**
 * Decodes an image file's bytes (JPEG, PNG, WebP; the first frame of an animated one) with ffmpeg in a
 * child process, straight to uint8 RGB [height, width, 3] through the fit's filters. An image ffmpeg
 * cannot decode fails the job (`invalid_image`, not retried) with ffmpeg's own words.
 */
export function decodeImageRgb(bytes: Buffer, fit: ImageFit, signal?: AbortSignal): Promise<Uint8Array> {
  const args = ["-nostdin", "-v", "error", "-i", "pipe:0", "-frames:v", "1", "-vf", fit.filter, "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"];
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegBinary(), args, { stdio: ["pipe", "pipe", "pipe"], signal });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => { stderr = (stderr + c.toString()).slice(-STDERR_TAIL); });
    child.on("error", reject);
    // ffmpeg may stop reading early (a broken file): the write error says nothing the exit code does not.
    child.stdin.on("error", () => undefined);
    child.stdin.end(bytes);
    child.on("close", (code) => {
      const rgb = Buffer.concat(out);
      const want = fit.width * fit.height * 3;
      if (code === 0 && rgb.length === want) return resolve(new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length));
      const why = code === 0 ? `it gave ${rgb.length} bytes of RGB, not ${want}` : stderr.trim() || `ffmpeg exited with code ${code}`;
      reject(new JobFailure("invalid_image", `the job's image cannot be decoded: ${why}`, false));
    });
  });
}
