import path from "node:path";
import {
  ALL_JOBS,
  ErrorBodySchema,
  JobResourceSchema,
  ListJobsQuerySchema,
  NotFoundError,
  ValidationError,
  newJobId,
  resolveJobParams,
  type CreateJobRequest,
  type JobData,
  type JobResource,
} from "@videosdgx/shared";
import { z } from "zod";
import type { ApiRouter, RouteResponse } from "../http/api-router.js";
import { jobScopeOf, principalOf, type Principal } from "../http/auth.js";
import { jsonBody, parseOr400 } from "../http/validate.js";
import type { AppContext } from "../context.js";
import { IdempotencyKeys } from "../services/idempotency.js";

const RedeliverRequestSchema = z.strictObject({ message_id: z.string().max(300).optional() });
const RedeliverAnswerSchema = z.object({ message_id: z.string(), delivery_id: z.string() });

export interface IdempotentRequest {
  key: string | undefined;
  /** Which route the body was sent to: the same body on another route is another request. */
  route: string;
  body: unknown;
}

/** Documented on both submission routes. */
export const TOO_MANY_REQUESTS: RouteResponse = {
  description: "the key's submission rate limit (rate_limited) or the model's cap on waiting jobs (queue_full) is reached; see Retry-After",
  schema: ErrorBodySchema,
};

/**
 * Validates against the model's own rules, admits (rate limit, queue cap) and enqueues: shared by both
 * submission routes. With an Idempotency-Key, a repeat returns the job the first request created
 * (`created: false`) without spending the rate limit; keys are per caller, never shared between API keys.
 */
export async function submitJob(
  ctx: AppContext,
  req: CreateJobRequest,
  idem: IdempotentRequest,
  caller: Principal,
): Promise<{ job: JobResource; created: boolean }> {
  const manifest = await ctx.models.requireInstalled(req.model).catch((err: unknown) => {
    if (err instanceof NotFoundError) throw new ValidationError(err.message, [{ field: "model", message: err.message }]);
    throw err;
  });
  const params = resolveJobParams(manifest.constraints, req);
  await ctx.models.requireFitsMemory(req.model, manifest);
  const webhook = req.webhook ? await ctx.webhooks.admit(req.webhook, caller.keyId) : undefined;
  const data: JobData = { ...params, ...(webhook ? { webhook } : {}), ...(caller.keyId === undefined ? {} : { owner: caller.keyId }) };
  const claim = idem.key === undefined ? undefined : await ctx.idempotency.claim(caller.keyId, idem.key, idem.route, idem.body, newJobId(req.model));
  if (claim && !claim.owner) return { job: await ctx.jobs.getSoon(claim.jobId, ALL_JOBS), created: false };
  try {
    const admission = await ctx.admission.admit(req.model, caller.keyId);
    // The place is given back after the add, on the same connection: a later admission sees the job instead.
    const job = await ctx.jobs.submit(data, claim?.jobId).finally(() => void admission.release().catch(() => undefined));
    return { job, created: true };
  } catch (err) {
    await claim?.abandon();
    throw err;
  }
}

export function jobRoutes(api: ApiRouter, ctx: AppContext): void {
  api.route(
    {
      method: "post", path: "/v1/jobs", tag: "jobs", summary: "Submit a text-to-video job", idempotent: true, access: "jobs:write",
      body: ctx.schemas.createJob,
      responses: {
        202: { description: "accepted and queued", schema: JobResourceSchema },
        200: { description: "a repeat with the same Idempotency-Key: the job the first request created", schema: JobResourceSchema },
        429: TOO_MANY_REQUESTS,
      },
    },
    async (req, res) => {
      const key = IdempotencyKeys.parseHeader(req.get("idempotency-key"));
      const body = parseOr400(ctx.schemas.createJob, jsonBody(req.body), "job request");
      const { job, created } = await submitJob(ctx, body, { key, route: "POST /v1/jobs", body: req.body }, principalOf(res));
      res.status(created ? 202 : 200).location(job.links.self).json(job);
    },
  );

  api.route(
    {
      method: "get", path: "/v1/jobs", tag: "jobs", summary: "List jobs, newest first (a non-admin key: its own jobs)", access: "jobs:read",
      query: ListJobsQuerySchema,
      responses: { 200: { description: "jobs", schema: z.object({ jobs: z.array(JobResourceSchema) }) } },
    },
    async (req, res) => {
      const q = parseOr400(ListJobsQuerySchema, req.query, "query");
      const models = q.model ? [q.model] : await ctx.models.names();
      res.json({ jobs: await ctx.jobs.list(models, q.status, q.limit, jobScopeOf(res)) });
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
      // Each redelivery makes the webhook worker send a request: it costs the caller like a submission.
      await ctx.admission.spend(principalOf(res).keyId);
      res.status(202).json(await ctx.jobs.redeliverWebhook(String(req.params.id), body.message_id, jobScopeOf(res)));
    },
  );

  api.route(
    {
      method: "get", path: "/v1/jobs/:id/video", tag: "jobs", summary: "The MP4 (HTTP Range supported)", access: "jobs:read",
      responses: { 200: { description: "video", contentType: "video/mp4" }, 206: { description: "partial content", contentType: "video/mp4" } },
    },
    async (req, res) => {
      const file = await ctx.jobs.videoFile(String(req.params.id), jobScopeOf(res));
      // send() answers Range requests (206) and conditional GETs itself.
      await new Promise<void>((resolve, reject) =>
        res.sendFile(path.join(ctx.config.OUTPUTS_DIR, file), { headers: { "Content-Type": "video/mp4" } }, (err) => {
          if (!err) return resolve();
          if ((err as NodeJS.ErrnoException).code === "ENOENT") reject(new NotFoundError(`the video file of job ${req.params.id} is missing`));
          else if (res.headersSent) resolve();
          else reject(err);
        }),
      );
    },
  );
}
