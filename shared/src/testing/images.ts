import { spawn } from "node:child_process";

export type TestImageFormat = "png" | "jpeg" | "webp";

const CODEC: Record<TestImageFormat, string[]> = {
  png: ["-c:v", "png"],
  jpeg: ["-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuvj444p"],
  webp: ["-c:v", "libwebp", "-lossless", "1"],
};

/** An image file's bytes from uint8 RGB [height, width, 3], encoded by the ffmpeg on PATH. */
export function encodeTestImage(rgb: Uint8Array, width: number, height: number, format: TestImageFormat): Promise<Buffer> {
  const args = ["-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${width}x${height}`, "-i", "pipe:0", "-frames:v", "1", ...CODEC[format], "-f", "image2pipe", "pipe:1"];
  return new Promise((resolve, reject) => {
    const child = spawn("ffmpeg", args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.stdin.end(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.length));
    child.on("close", (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg could not encode a ${format}: ${stderr}`))));
  });
}

/**
 * A test picture of `block`-pixel squares of different colours (full range, extremes included), with an
 * optional frame of `margin` pixels in pure red around it: what a centre crop must cut away.
 */
export function blockPattern(width: number, height: number, block: number, margin = { x: 0, y: 0 }): Uint8Array {
  const [w, h] = [width + 2 * margin.x, height + 2 * margin.y];
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [ix, iy] = [x - margin.x, y - margin.y];
      const inside = ix >= 0 && iy >= 0 && ix < width && iy < height;
      const [bx, by] = [Math.floor(ix / block), Math.floor(iy / block)];
      const colour = inside ? [(bx * 67 + by * 29) % 256, (bx * 23 + by * 101 + 80) % 256, ((bx + by) % 2) * 255] : [255, 0, 0];
      rgb.set(colour, (y * w + x) * 3);
    }
  }
  return rgb;
}
