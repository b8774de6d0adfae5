import { pipeline } from "node:stream/promises";
import type { Request, Response } from "express";
import parseRange from "range-parser";
import { NotFoundError, ServiceUnavailableError, partKey, type S3Outputs } from "@videosdgx/shared";
import { hasSuffixRange, wholeFileForLongSuffix } from "./byte-ranges.js";

/**
 * A job's object in the output store (OUTPUT_STORE=s3), answered as sendFile answers a file: one
 * satisfiable range is a 206 with Content-Range (read from the store with a ranged GetObject); a range
 * selecting no byte is send's 416 error, so the error handler answers it exactly as for a file; several
 * ranges, or a malformed header, get the whole object (200). With S3_PRESIGN=1, a redirect to a
 * short-lived signed URL instead: the client's Range goes to the store itself.
 */
/** The store failing before anything was sent is a 503 naming it, not an unexpected error. */
async function fromStore<T>(store: S3Outputs, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new ServiceUnavailableError(`the output store (bucket ${store.bucket}) cannot be read now: ${(err as Error).name}: ${(err as Error).message}; try again shortly`);
  }
}

export async function sendStored(req: Request, res: Response, store: S3Outputs, key: string, what: { type: string; name: string }, presign: boolean): Promise<void> {
  const size = await fromStore(store, () => store.size(key));
  if (size === undefined) throw new NotFoundError(`the ${what.name} file of job ${req.params.id} is missing`);
  if (presign) {
    res.setHeader("Cache-Control", "no-store");
    return res.redirect(307, await store.presign(key));
  }
  let header = req.headers.range;
  if (header !== undefined && hasSuffixRange(header)) header = wholeFileForLongSuffix(header, size);
  const ranges = header !== undefined && /^ *bytes=/.test(header) ? parseRange(size, header, { combine: true }) : -2;
  if (ranges === -1) {
    // send's own error shape (http-errors with its headers): the error handler turns it into the JSON 416.
    throw Object.assign(new Error("Range Not Satisfiable"), { status: 416, expose: true, headers: { "Content-Range": `bytes */${size}` } });
  }
  const range = ranges !== -2 && ranges.length === 1 ? ranges[0]! : undefined;
  res.status(range ? 206 : 200);
  res.set({ "Content-Type": what.type, "Accept-Ranges": "bytes", "Content-Length": String(range ? range.end - range.start + 1 : size) });
  if (range) res.setHeader("Content-Range", `bytes ${range.start}-${range.end}/${size}`);
  if (size === 0 || req.method === "HEAD") return void res.end();
  const body = await fromStore(store, () => store.read(key, range));
  await pipeline(body, res);
}

/**
 * A running chunk-wise job's video from the store: the parts its worker uploaded before announcing them,
 * in order, up to the `bytes` it announced (later parts are not announced yet). False when they are gone
 * (the job has just finished and its parts were removed): the caller serves the final video.
 */
export async function sendStoredGrowingVideo(res: Response, store: S3Outputs, file: string, bytes: number): Promise<boolean> {
  const listed = await fromStore(store, async () => {
    const keys: string[] = [];
    let covered = 0;
    for await (const part of store.list(`${file}/`)) {
      if (covered >= bytes) break;
      if (part.key !== partKey(file, covered)) break;
      keys.push(part.key);
      covered += part.size;
    }
    return { keys, covered };
  });
  if (listed.covered !== bytes) return false;
  const parts = listed.keys;
  res.writeHead(200, { "Content-Type": "video/mp4", "Content-Length": String(bytes), "Accept-Ranges": "none", "Cache-Control": "no-store" });
  for (const key of parts) await pipeline(await store.read(key), res, { end: false });
  res.end();
  return true;
}

/**
 * A job's latest preview from the store (the worker puts each one there before announcing it). It is
 * replaced every few steps, so it is read whole with one GetObject: one answer is one preview, its length
 * that object's. With S3_PRESIGN=1, a redirect to it, as for the video. Never cached either way.
 */
export async function sendStoredPreview(req: Request, res: Response, store: S3Outputs, key: string, presign: boolean): Promise<void> {
  res.setHeader("Cache-Control", "no-store");
  if (presign) return sendStored(req, res, store, key, { type: "image/jpeg", name: "preview" }, true);
  const jpeg = await fromStore(store, () => store.bytes(key));
  if (jpeg === undefined) throw new NotFoundError(`the preview file of job ${req.params.id} is missing`);
  res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": String(jpeg.length) }).end(jpeg);
}
