import { fingerprintOf, jsonSubmission } from "../http/job-form.js";
import { GenerateResponseSchema, ModelListSchema, ModelViewSchema, ModelUnavailableError, generateToJobRequest, inGenerateTerms } from "@videosdgx/shared";
import { z } from "zod";
import type { AppContext } from "../context.js";
import type { ApiRouter } from "../http/api-router.js";
import { principalOf } from "../http/auth.js";
import { jsonBody, parseOr400 } from "../http/validate.js";
import { IdempotencyKeys } from "../services/idempotency.js";
import { submitJob } from "../services/job-submission.js";
import { TOO_MANY_REQUESTS } from "./jobs.js";

const ControlAnswerSchema = z.object({ model: z.string(), action: z.enum(["load", "unload"]), workers: z.number().int() });


export function modelRoutes(api: ApiRouter, ctx: AppContext): void {
  api.route(
    {
      method: "get", path: "/v1/models", tag: "models", summary: "Every known model: installed or not (and why), constraints, loaded or not", access: "any",
      responses: { 200: { description: "models", schema: ModelListSchema } },
    },
    async (_req, res) => {
      res.json({ models: await ctx.models.list() });
    },
  );

  api.route(
    {
      method: "get", path: "/v1/models/:model", tag: "models", summary: "One model", access: "any",
      responses: { 200: { description: "the model", schema: ModelViewSchema } },
    },
    async (req, res) => {
      res.json(await ctx.models.view(String(req.params.model)));
    },
  );

  for (const action of ["load", "unload"] as const) {
    api.route(
      {
        method: "post", path: `/v1/models/:model/${action}`, tag: "models", access: "admin",
        summary: action === "load" ? "Warm up: load the model on its workers (waits for memory like a job)" : "Unload the model where it is idle",
        responses: { 202: { description: "request sent; GET /v1/models shows the outcome", schema: ControlAnswerSchema } },
      },
      async (req, res) => {
        const model = String(req.params.model);
        const workers = await ctx.models.control(model, action);
        if (workers === 0) throw new ModelUnavailableError(`model ${model} has no running worker to ${action} it`, { model });
        res.status(202).json({ model, action, workers });
      },
    );
  }

  api.route(
    {
      method: "post", path: "/v1/models/:model/generate", tag: "models", idempotent: true, access: "jobs:write",
      summary: "Submit a job in the seed documents' shape (duration in seconds, resolution WxH)",
      body: ctx.schemas.generate,
      responses: { 202: { description: "accepted and queued", schema: GenerateResponseSchema }, 429: TOO_MANY_REQUESTS },
    },
    async (req, res) => {
      const model = String(req.params.model);
      const key = IdempotencyKeys.parseHeader(req.get("idempotency-key"));
      const submission = jsonSubmission(jsonBody(req), req, ctx.config);
      const body = parseOr400(ctx.schemas.generate, submission.fields, "generate request");
      await ctx.models.requireInstalled(model); // unknown model: 404 here, rather than a 400 about a body field
      const { job, created } = await submitJob(
        ctx, generateToJobRequest(model, body), { key, route: `POST /v1/models/${model}/generate`, body: fingerprintOf(submission) }, principalOf(res).keyId,
        (violations) => inGenerateTerms(body, violations), submission.image,
      );
      res.status(created ? 202 : 200).location(job.links.self).json({
        job_id: job.id,
        status: job.status,
        queue_position: job.queue_position,
        params: job.params,
        links: job.links,
      });
    },
  );
}
