import assert from "node:assert/strict";
import { test } from "node:test";
import { PayloadTooLargeError, ValidationError } from "../errors.js";
import { blockPattern, encodeTestImage } from "../testing/images.js";
import { checkImage, decodeImageDataUrl, imageSize, sniffImageType } from "./image-input.js";

const LIMITS = { maxBytes: 1 << 20, maxPixels: 1 << 20 };

test("type from the magic bytes and size from the header, for PNG, JPEG and lossless WebP as ffmpeg writes them", async () => {
  const rgb = blockPattern(40, 24, 8);
  for (const [format, type] of [["png", "image/png"], ["jpeg", "image/jpeg"], ["webp", "image/webp"]] as const) {
    const bytes = await encodeTestImage(rgb, 40, 24, format);
    assert.equal(sniffImageType(bytes), type, format);
    assert.deepEqual(imageSize(bytes, type), [40, 24], format);
    const checked = decodeImageDataUrl(`data:${type};base64,${bytes.toString("base64")}`, LIMITS);
    assert.deepEqual([checked.type, checked.width, checked.height, checked.bytes.equals(bytes)], [type, 40, 24, true]);
  }
});

test("lossy WebP (VP8) and extended WebP (VP8X) headers", () => {
  const vp8 = Buffer.alloc(30);
  vp8.write("RIFF", 0, "latin1");
  vp8.write("WEBPVP8 ", 8, "latin1");
  vp8.set([0x9d, 0x01, 0x2a], 23);
  vp8.writeUInt16LE(321, 26);
  vp8.writeUInt16LE(123, 28);
  assert.deepEqual(imageSize(vp8, "image/webp"), [321, 123]);
  const vp8x = Buffer.alloc(30);
  vp8x.write("RIFF", 0, "latin1");
  vp8x.write("WEBPVP8X", 8, "latin1");
  vp8x.writeUIntLE(999, 24, 3);
  vp8x.writeUIntLE(499, 27, 3);
  assert.deepEqual(imageSize(vp8x, "image/webp"), [1000, 500]);
});

const refusal = (fn: () => unknown, kind: typeof ValidationError | typeof PayloadTooLargeError, message: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof kind, String(err));
    assert.deepEqual((err.details as { field: string }[]).map((d) => d.field), ["image"]);
    assert.match(err.message, message);
    return true;
  });

test("refusals name image: not base64, another type, a cut header, over the byte or pixel limit", async () => {
  const png = await encodeTestImage(blockPattern(40, 24, 8), 40, 24, "png");
  refusal(() => decodeImageDataUrl("data:image/png;base64,abc!", LIMITS), ValidationError, /not valid base64/);
  refusal(() => decodeImageDataUrl("data:text/plain;base64,aGk=", LIMITS), ValidationError, /data URL|declared text/);
  refusal(() => decodeImageDataUrl("aGVsbG8=", LIMITS), ValidationError, /must be a data URL/);
  refusal(() => checkImage(Buffer.from("GIF89a..."), LIMITS), ValidationError, /not a JPEG, PNG or WebP/);
  refusal(() => checkImage(png, LIMITS, "image/webp"), ValidationError, /sent as image\/webp, but its bytes are image\/png/);
  refusal(() => checkImage(png.subarray(0, 20), LIMITS), ValidationError, /no width and height/);
  refusal(() => checkImage(png, { maxBytes: 100, maxPixels: 1e6 }), PayloadTooLargeError, /limit is 100 bytes \(IMAGE_MAX_BYTES\)/);
  refusal(() => checkImage(png, { maxBytes: 1e6, maxPixels: 959 }), PayloadTooLargeError, /40x24 = 960 pixels; the limit is 959 pixels/);
  refusal(() => decodeImageDataUrl(`data:image/png;base64,${"A".repeat(400)}`, { maxBytes: 100, maxPixels: 1e6 }), PayloadTooLargeError, /IMAGE_MAX_BYTES/);
});
