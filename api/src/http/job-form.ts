import busboy from "busboy";
import type { Request } from "express";
import { checkImage, decodeImageDataUrl, PayloadTooLargeError, ValidationError, type CheckedImage, type Config } from "@videosdgx/shared";
import type { z } from "zod";

/** A submission as the routes see it: the JSON fields, and the image (checked) when one came. */
export interface Submission {
  fields: Record<string, unknown>;
  image?: CheckedImage;
}

/**
 * What an Idempotency-Key's request is compared by: the fields, and the image by its digest, so the same
 * fields and image are the same request whether the image came as a data URL or as a file part.
 */
export const fingerprintOf = (s: Submission): unknown => (s.image ? { ...s.fields, image: { sha256: s.image.sha256 } } : s.fields);

const limitsOf = (config: Config) => ({ maxBytes: config.IMAGE_MAX_BYTES, maxPixels: config.IMAGE_MAX_PIXELS });

/**
 * The JSON body limit of the submission routes: MAX_BODY_BYTES for the fields plus an image's data URL
 * (base64 is 4 characters per 3 bytes). The fields alone are held to MAX_BODY_BYTES after parsing.
 */
export const submissionJsonLimit = (config: Config): number => config.MAX_BODY_BYTES + Math.ceil(config.IMAGE_MAX_BYTES / 3) * 4 + 64;

/** Bytes each JSON body had (express.json's verify hook), to hold the fields beside an image to MAX_BODY_BYTES. */
const bodyBytes = new WeakMap<object, number>();
export function noteBodyBytes(req: object, _res: unknown, buf: Buffer): void {
  bodyBytes.set(req, buf.length);
}

const tooLarge = (config: Config) => new PayloadTooLargeError(`the body is larger than ${config.MAX_BODY_BYTES} bytes (MAX_BODY_BYTES), not counting an image`);

/** A JSON submission: its `image` data URL, when present, is decoded and checked; the rest is left to the schema. */
export function jsonSubmission(body: unknown, req: Request, config: Config): Submission {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { fields: body as Record<string, unknown> };
  const { image, ...fields } = body as Record<string, unknown>;
  const imageChars = typeof image === "string" ? image.length : 0;
  if ((bodyBytes.get(req) ?? 0) - imageChars > config.MAX_BODY_BYTES) throw tooLarge(config);
  if (image === undefined) return { fields };
  if (typeof image !== "string") {
    const message = "image must be a data URL string (data:image/png;base64,...), or a multipart file part";
    throw new ValidationError(message, [{ field: "image", message }]);
  }
  return { fields, image: decodeImageDataUrl(image, limitsOf(config)) };
}

export const isMultipart = (req: Request): boolean => req.is("multipart/form-data") === "multipart/form-data";

/** zod's kind of a request field, for turning a form's text into the JSON value the schema expects. */
function kindOf(schema: z.ZodType | undefined): string | undefined {
  let s = schema as unknown as { def?: { type: string; innerType?: unknown } } | undefined;
  while (s?.def && (s.def.type === "optional" || s.def.type === "default" || s.def.type === "nullable")) s = s.def.innerType as typeof s;
  return s?.def?.type;
}

/** A form field's text as its JSON value: numbers and booleans by the schema's kind, objects as JSON text. */
function formValue(text: string, kind: string | undefined): unknown {
  if (kind === "number" && /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(text.trim())) return Number(text);
  if (kind === "boolean" && (text === "true" || text === "false")) return text === "true";
  if (kind === "object") {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text; // the schema names what is wrong with anything else
}

const MAX_FORM_FIELDS = 32;

/**
 * A multipart/form-data submission (busboy): each text field is a request field, typed by the schema
 * (`-F num_frames=17`), and one file part named `image`. Limits: the image to IMAGE_MAX_BYTES, the text
 * fields together to MAX_BODY_BYTES, one file, a few dozen fields. Another file part is refused.
 */
export function multipartSubmission(req: Request, config: Config, shape: Record<string, z.ZodType>): Promise<Submission> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: { fileSize: config.IMAGE_MAX_BYTES, files: 1, fields: MAX_FORM_FIELDS, fieldSize: config.MAX_BODY_BYTES, parts: MAX_FORM_FIELDS + 1 },
      });
    } catch (err) {
      reject(new ValidationError(`the multipart body cannot be read: ${(err as Error).message}`, undefined, "malformed_multipart"));
      return;
    }
    const fields: Record<string, unknown> = {};
    let textBytes = 0;
    let settled = false;
    let image: { chunks: Buffer[]; declared: string; truncated: boolean } | undefined;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reject(err);
      req.unpipe(bb);
      req.resume(); // drain the rest, so the answer can be sent
    };
    bb.on("field", (name, value, info) => {
      textBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
      if (info.valueTruncated || textBytes > config.MAX_BODY_BYTES) return fail(tooLarge(config));
      if (name === "image") return fail(new ValidationError("image must be sent as a file part (filename and content type), not as text", [{ field: "image", message: "a text field" }]));
      fields[name] = formValue(value, kindOf(shape[name]));
    });
    bb.on("file", (name, stream, info) => {
      if (name !== "image" || image) {
        stream.resume();
        return fail(new ValidationError(`${name} is not a file field (only image is)`, [{ field: name, message: "is not a known file field" }]));
      }
      const part = { chunks: [] as Buffer[], declared: info.mimeType.toLowerCase(), truncated: false };
      image = part;
      stream.on("data", (c: Buffer) => part.chunks.push(c));
      stream.on("limit", () => { part.truncated = true; });
    });
    for (const event of ["filesLimit", "fieldsLimit", "partsLimit"] as const) {
      bb.on(event, () => fail(new ValidationError(`the multipart body has too many parts (one image file and at most ${MAX_FORM_FIELDS} fields)`, undefined, "malformed_multipart")));
    }
    bb.on("error", (err: Error) => fail(new ValidationError(`the multipart body cannot be read: ${err.message}`, undefined, "malformed_multipart")));
    bb.on("close", () => {
      if (settled) return;
      settled = true;
      if (!image) return resolve({ fields });
      if (image.truncated) {
        const message = `image is larger than the limit of ${config.IMAGE_MAX_BYTES} bytes (IMAGE_MAX_BYTES)`;
        return reject(new PayloadTooLargeError(message, [{ field: "image", message }]));
      }
      // A client that does not know the type sends application/octet-stream: the bytes decide then.
      const declared = image.declared === "application/octet-stream" ? undefined : image.declared;
      try {
        resolve({ fields, image: checkImage(Buffer.concat(image.chunks), limitsOf(config), declared) });
      } catch (err) {
        reject(err as Error);
      }
    });
    req.pipe(bb);
  });
}
