import { createHash } from "node:crypto";
import { PayloadTooLargeError, ValidationError } from "../errors.js";

/** The image types an image-to-video request may carry, by what their first bytes say (never by a header alone). */
export const IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

const EXTENSIONS: Record<ImageType, string> = { "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp" };
export const extensionOf = (type: ImageType): string => EXTENSIONS[type];

/** A request's image once checked: its bytes and what they are. */
export interface CheckedImage {
  bytes: Buffer;
  type: ImageType;
  width: number;
  height: number;
  sha256: string;
}

export interface ImageLimits {
  maxBytes: number;
  maxPixels: number;
}

const FIELD = "image";
const refuse = (message: string, code = "invalid_image") => new ValidationError(message, [{ field: FIELD, message }], code);

/** The type the magic bytes announce, or undefined. */
export function sniffImageType(b: Buffer): ImageType | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "image/png";
  if (b.length >= 12 && b.toString("latin1", 0, 4) === "RIFF" && b.toString("latin1", 8, 12) === "WEBP") return "image/webp";
  return undefined;
}

/** JPEG: the first start-of-frame segment (SOF0..SOF15 except DHT, JPG, DAC) holds height and width. */
function jpegSize(b: Buffer): [number, number] | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xff) { i++; continue; }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; }
    const length = b.readUInt16BE(i + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) return [b.readUInt16BE(i + 7), b.readUInt16BE(i + 5)];
    i += 2 + length;
  }
  return undefined;
}

/** WebP: lossy (VP8), lossless (VP8L) or extended (VP8X) header. */
function webpSize(b: Buffer): [number, number] | undefined {
  if (b.length < 30) return undefined;
  const chunk = b.toString("latin1", 12, 16);
  if (chunk === "VP8 " && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) return [b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff];
  if (chunk === "VP8L" && b[20] === 0x2f) {
    const bits = b.readUInt32LE(21);
    return [(bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1];
  }
  if (chunk === "VP8X") return [b.readUIntLE(24, 3) + 1, b.readUIntLE(27, 3) + 1];
  return undefined;
}

/** [width, height] from the header of a sniffed image, or undefined when the header is cut or malformed. */
export function imageSize(b: Buffer, type: ImageType): [number, number] | undefined {
  if (type === "image/png") return b.length >= 24 && b.toString("latin1", 12, 16) === "IHDR" ? [b.readUInt32BE(16), b.readUInt32BE(20)] : undefined;
  return type === "image/jpeg" ? jpegSize(b) : webpSize(b);
}

/**
 * An uploaded image against the limits: its type from its magic bytes (a declared type must agree), its
 * size in bytes and in pixels from its header. Decoding it is the worker's (ffmpeg); a body that passes
 * here but does not decode fails the job with the decoder's reason.
 */
export function checkImage(bytes: Buffer, limits: ImageLimits, declared?: string): CheckedImage {
  if (bytes.length > limits.maxBytes) {
    const message = `image is ${bytes.length} bytes; the limit is ${limits.maxBytes} bytes (IMAGE_MAX_BYTES)`;
    throw new PayloadTooLargeError(message, [{ field: FIELD, message }]);
  }
  if (bytes.length === 0) throw refuse("image is empty");
  const type = sniffImageType(bytes);
  if (!type) throw refuse(`image is not a JPEG, PNG or WebP file (its first bytes are none of theirs)${declared ? `, though it was sent as ${declared}` : ""}`, "unsupported_image_type");
  if (declared !== undefined && declared !== type && !(declared === "image/jpg" && type === "image/jpeg")) {
    throw refuse(`image was sent as ${declared}, but its bytes are ${type}`, "unsupported_image_type");
  }
  const size = imageSize(bytes, type);
  if (!size || size[0] === 0 || size[1] === 0) throw refuse(`image is a ${type} whose header gives no width and height (cut or damaged)`);
  const [width, height] = size;
  if (width * height > limits.maxPixels) {
    const message = `image is ${width}x${height} = ${width * height} pixels; the limit is ${limits.maxPixels} pixels (IMAGE_MAX_PIXELS)`;
    throw new PayloadTooLargeError(message, [{ field: FIELD, message }]);
  }
  return { bytes, type, width, height, sha256: createHash("sha256").update(bytes).digest("hex") };
}

const DATA_URL = /^data:(image\/[a-z0-9.+-]+);base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The bytes and declared type of a `data:image/...;base64,...` URL, or a 400 naming `image`. */
export function decodeImageDataUrl(url: string, limits: ImageLimits): CheckedImage {
  const head = DATA_URL.exec(url);
  if (!head) throw refuse('image must be a data URL: "data:image/png;base64,..." (JPEG, PNG or WebP), or sent as a multipart/form-data file');
  const declared = head[1]!.toLowerCase();
  if (!["image/jpeg", "image/jpg", "image/png", "image/webp"].includes(declared)) {
    throw refuse(`image is declared ${declared}; JPEG, PNG or WebP only`, "unsupported_image_type");
  }
  const payload = url.slice(head[0].length).replace(/\s+/g, "");
  // Refused before decoding: base64 is 4 characters for 3 bytes.
  if (Math.floor((payload.length * 3) / 4) - 2 > limits.maxBytes) {
    const message = `image is about ${Math.floor((payload.length * 3) / 4)} bytes; the limit is ${limits.maxBytes} bytes (IMAGE_MAX_BYTES)`;
    throw new PayloadTooLargeError(message, [{ field: FIELD, message }]);
  }
  if (payload.length % 4 !== 0 || !BASE64.test(payload)) throw refuse("image is not valid base64 after its data: header");
  return checkImage(Buffer.from(payload, "base64"), limits, declared);
}

/** What a job's data says about its conditioning image: where the bytes are kept and their digest. */
export interface ImageReference {
  key: string;
  sha256: string;
}
