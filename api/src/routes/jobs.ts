import { open, readFile, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import path from "node:path";
import type { Request, Response } from "express";
import { ErrorBodySchema, JobListSchema, JobResourceSchema, ListJobsQuerySchema, NotFoundError, ValidationError } from "@videosdgx/shared";
import { z } from "zod";
import type { ApiRouter, RouteResponse } from "../http/api-router.js";
import { jobScopeOf, principalOf } from "../http/auth.js";
import { hasSuffixRange, wholeFileForLongSuffix } from "../http/byte-ranges.js";
import { fingerprintOf, isMultipart, jsonSubmission, multipartSubmission } from "../http/job-form.js";
import { sendStored, sendStoredGrowingVideo, sendStoredPreview } from "../http/send-stored.js";
import { jsonBody, parseOr400 } from "../http/validate.js";
import type { AppContext } from "../context.js";
import { IdempotencyKeys } from "../services/idempotency.js";
import { submitJob } from "../services/job-submission.js";

const RedeliverRequestSchema = z.strictObject({ message_id: z.string().max(300).optional() });
const RedeliverAnswerSchema = z.object({ message_id: z.string(), delivery_id: z.string() });

/** Documented on both submission routes. */
export const TOO_MANY_REQUESTS: RouteResponse = {
  description: "the key's submission rate limit (rate_limited) or the model's cap on waiting jobs (queue_full) is reached; see Retry-After",
  schema: ErrorBodySchema,
};

/** A job's file (MP4, poster), through send: it answers Range requests (206, or 416 via the error handler) and conditional GETs. */
const VIDEO = { type: "video/mp4", name: "video" };

async function sendFileOutput(req: Request, res: Response, file: string, what: { type: string; name: string }): Promise<void> {
  const range = req.headers.range;
  if (range !== undefined && hasSuffixRange(range)) {
    const size = await stat(file).then((s) => s.size, () => undefined); // a missing file is reported below
    if (size !== undefined) req.headers.range = wholeFileForLongSuffix(range, size);
  }
  await new Promise<void>((resolve, reject) =>
    res.sendFile(file, { headers: { "Content-Type": what.type } }, (err) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === "ENOENT") reject(new NotFoundError(`the ${what.name} file of job ${req.params.id} is missing`));
      else if (res.headersSent) resolve();
      else reject(err);
    }),
  );
}

/**
 * A running chunk-wise job's video: the first `bytes` of its growing fragmented MP4, the part the worker
 * has recorded as a playable file. No Range: the ready part grows, so it is sent whole each time.
 * False when the file is gone (the job has just finished).
 */
async function sendGrowingVideo(res: Response, file: string, bytes: number): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  res.writeHead(200, { "Content-Type": "video/mp4", "Content-Length": String(bytes), "Accept-Ranges": "none", "Cache-Control": "no-store" });
  await pipeline(handle.createReadStream({ start: 0, end: bytes - 1 }), res);
  return true;
}

export function jobRoutes(api: ApiRouter, ctx: AppContext): void {
  const { outputs, config } = ctx;
  /** A finished file of a job, from OUTPUTS_DIR or the output store: the same answers either way. */
  const sendOutput = (req: Request, res: Response, name: string, what: { type: string; name: string }): Promise<void> =>
    outputs ? sendStored(req, res, outputs, name, what, config.S3_PRESIGN) : sendFileOutput(req, res, path.join(config.OUTPUTS_DIR, name), what);
  const sendGrowing = (res: Response, name: string, bytes: number): Promise<boolean> =>
    outputs ? sendStoredGrowingVideo(res, outputs, name, bytes) : sendGrowingVideo(res, path.join(config.OUTPUTS_DIR, name), bytes);

  api.route(
    {
      method: "post", path: "/v1/jobs", tag: "jobs", summary: "Submit a job (JSON; or multipart/form-data with the fields as text parts and an image file part, for image-to-video models)",
      idempotent: true, access: "jobs:write",
      body: ctx.schemas.createJob, multipart: true,
      responses: {
        202: { description: "accepted and queued", schema: JobResourceSchema },
        200: { description: "a repeat with the same Idempotency-Key: the job the first request created", schema: JobResourceSchema },
        413: { description: "the body is over MAX_BODY_BYTES, or its image over IMAGE_MAX_BYTES or IMAGE_MAX_PIXELS (details name image)", schema: ErrorBodySchema },
        429: TOO_MANY_REQUESTS,
      },
    },
    async (req, res) => {
      const key = IdempotencyKeys.parseHeader(req.get("idempotency-key"));
      const submission = isMultipart(req)
        ? await multipartSubmission(req, ctx.config, ctx.schemas.createJob.shape)
        : jsonSubmission(jsonBody(req), req, ctx.config);
      const body = parseOr400(ctx.schemas.createJob, submission.fields, "job request");
      const route = { key, route: "POST /v1/jobs", body: fingerprintOf(submission) };
      const { job, created } = await submitJob(ctx, body, route, principalOf(res).keyId, undefined, submission.image);
      res.status(created ? 202 : 200).location(job.links.self).json(job);
    },
  );

  api.route(
    {
      method: "get", path: "/v1/jobs", tag: "jobs", summary: "List jobs, newest first (a non-admin key: its own jobs)", access: "jobs:read",
      query: ListJobsQuerySchema,
      responses: {
        200: {
          description: "jobs; next_before, when present, is the `before` of the next page",
          schema: JobListSchema,
        },
      },
    },
    async (req, res) => {
      const q = parseOr400(ListJobsQuerySchema, req.query, "query");
      const names = await ctx.models.names();
      // A filter on a model that does not exist is refused before any queue of that name is made.
      if (q.model !== undefined && !names.includes(q.model)) {
        throw new ValidationError(`unknown model ${q.model}; known models: ${names.join(", ")}`, [{ field: "model", message: "unknown model" }]);
      }
      const models = q.model ? [q.model] : names;
      res.json(await ctx.jobs.list(models, q.status, q.limit, jobScopeOf(res), q.before));
    },
  );

  api.route(
    {
      method: "get", path: "/v1/jobs/:id", tag: "jobs", summary: "A job's status, progress, timings and result", access: "jobs:read",
      responses: { 200: { description: "the job", schema: JobResourceSchema } },
    },
    async (req, res) => {
      res.json(await ctx.jobs.get(String(req.params.id), jobScopeOf(res)));
    },
  );

  api.route(
    {
      method: "delete", path: "/v1/jobs/:id", tag: "jobs", summary: "Cancel a queued or running job", access: "jobs:write",
      responses: { 202: { description: "cancellation recorded", schema: JobResourceSchema } },
    },
    async (req, res) => {
      res.status(202).json(await ctx.jobs.cancel(String(req.params.id), jobScopeOf(res)));
    },
  );

  api.route(
    {
      method: "post", path: "/v1/jobs/:id/retry", tag: "jobs", access: "jobs:write",
      summary: "Queue a failed or cancelled job again (same id, params and webhook; every attempt again)",
      responses: {
        202: { description: "the job, queued again", schema: JobResourceSchema },
        409: { description: "the job is not failed or cancelled", schema: ErrorBodySchema },
        503: { description: "the job's model cannot take jobs now", schema: ErrorBodySchema },
      },
    },
    async (req, res) => {
      const id = String(req.params.id);
      const scope = jobScopeOf(res);
      // Found (and the caller's) first, so another key's job is a 404 whatever its model's state.
      await ctx.models.requireInstalled((await ctx.jobs.get(id, scope)).model);
      res.status(202).json(await ctx.jobs.retry(id, scope));
    },
  );

  api.route(
    {
      method: "post", path: "/v1/jobs/:id/webhook/redeliver", tag: "jobs", access: "jobs:write",
      summary: "Send one of the job's webhook messages again (default: the latest), same id and body, new signature",
      body: RedeliverRequestSchema,
      responses: {
        202: { description: "a new delivery of the message is queued", schema: RedeliverAnswerSchema },
        429: { description: "the key's submission rate limit is reached (a redelivery spends a submission); see Retry-After", schema: ErrorBodySchema },
      },
    },
    async (req, res) => {
      const body = parseOr400(RedeliverRequestSchema, req.body ?? {}, "redeliver request");
      const id = String(req.params.id);
      // An id that cannot name a job costs nothing; any other redelivery makes the webhook worker send a
      // request, so it costs the caller like a submission, before the job is even looked at.
      await ctx.jobs.requirePossibleId(id);
      await ctx.admission.spend(principalOf(res).keyId);
      res.status(202).json(await ctx.jobs.redeliverWebhook(id, body.message_id, jobScopeOf(res)));
    },
  );

  api.route(
    {
      method: "get", path: "/v1/jobs/:id/video", tag: "jobs", summary: "The MP4 (HTTP Range supported); while a chunk-wise job runs, the part generated so far (no Range)", access: "jobs:read",
      responses: {
        200: { description: "video", contentType: "video/mp4" },
        206: { description: "partial content", contentType: "video/mp4" },
        307: { description: "S3_PRESIGN=1: a short-lived signed URL of the video in the output store (Range works there too)" },
        416: { description: "the Range selects no byte of the file; Content-Range: bytes */<size>", schema: ErrorBodySchema },
      },
    },
    async (req, res) => {
      const id = String(req.params.id);
      const video = await ctx.jobs.videoFile(id, jobScopeOf(res));
      if (video.readyBytes === undefined) return sendOutput(req, res, video.file, VIDEO);
      // The growing file is gone once the job has swapped in its final MP4: that one is served instead.
      const sent = await sendGrowing(res, video.file, video.readyBytes);
      if (!sent) {
        const done = await ctx.jobs.videoFile(id, jobScopeOf(res));
        await sendOutput(req, res, done.file, VIDEO);
      }
    },
  );

  api.route(
    {
      method: "get", path: "/v1/jobs/:id/poster.jpg", tag: "jobs", summary: "The video's poster image (its middle frame, JPEG)", access: "jobs:read",
      responses: {
        200: { description: "poster", contentType: "image/jpeg" },
        404: { description: "no such job, or not completed yet (the poster is made with the video)", schema: ErrorBodySchema },
      },
    },
    async (req, res) => {
      const file = await ctx.jobs.posterFile(String(req.params.id), jobScopeOf(res));
      await sendOutput(req, res, file, { type: "image/jpeg", name: "poster" });
    },
  );

  api.route(
    {
      method: "get", path: "/v1/jobs/:id/preview.jpg", tag: "jobs", access: "jobs:read",
      summary: "The latest preview of the running job's x0 estimate (JPEG, every PREVIEW_EVERY_STEPS steps; `preview` events announce each)",
      responses: {
        200: { description: "the latest preview; replaced as sampling goes on, so never cached", contentType: "image/jpeg" },
        307: { description: "S3_PRESIGN=1: a short-lived signed URL of the preview in the output store" },
        404: { description: "no such job, or no preview yet (previews off, or a model without latent_rgb_factors)", schema: ErrorBodySchema },
      },
    },
    async (req, res) => {
      const id = String(req.params.id);
      const name = await ctx.jobs.previewFile(id, jobScopeOf(res));
      // OUTPUT_STORE=s3: the preview may be made on another host, and leaves the worker's disk once stored.
      if (outputs) return sendStoredPreview(req, res, outputs, name, config.S3_PRESIGN);
      const file = path.join(config.OUTPUTS_DIR, name);
      // Small, and replaced by a rename at any time: read whole, so one answer is one preview.
      const jpeg = await readFile(file).catch((err: NodeJS.ErrnoException) => {
        throw err.code === "ENOENT" ? new NotFoundError(`the preview file of job ${id} is missing`) : err;
      });
      res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": String(jpeg.length), "Cache-Control": "no-store" }).end(jpeg);
    },
  );
}
