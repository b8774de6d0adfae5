import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import express, { type Express } from "express";
import type { AppContext } from "./context.js";
import { ApiRouter } from "./http/api-router.js";
import { docsRouter } from "./http/docs-page.js";
import { errorHandler, notFoundHandler } from "./http/error-handler.js";
import { buildOpenApi } from "./http/openapi.js";
import { requestContext } from "./http/request-context.js";
import { requestMetrics } from "./http/request-metrics.js";
import { securityHeaders } from "./http/security-headers.js";
import { studioRouter } from "./http/studio-page.js";
import { noteBodyBytes, submissionJsonLimit } from "./http/job-form.js";
import { noteEmptyBody } from "./http/validate.js";
import { healthRoutes } from "./routes/health.js";
import { hostRoutes } from "./routes/hosts.js";
import { jobEventRoutes } from "./routes/job-events.js";
import { jobRoutes } from "./routes/jobs.js";
import { keyRoutes } from "./routes/keys.js";
import { modelRoutes } from "./routes/models.js";

export const DASHBOARD_PATH = "/admin/queues";
export const DOCS_PATH = "/docs";
export const OPENAPI_PATH = "/openapi.json";
const SUBMISSION_PATHS = ["/v1/jobs", "/v1/models/:model/generate"];

/** The HTTP surface: routes, dashboard, docs, and the single error mapping. */
export function createApp(ctx: AppContext, version: string): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // Job resources change with every step; a hash of each JSON body would be CPU spent on every request.
  app.set("etag", false);
  app.use(requestContext(ctx.log));
  app.use(requestMetrics(ctx.metrics));
  app.use(securityHeaders);
  // The submission routes take an image as a data URL: their own, larger limit (the fields stay within MAX_BODY_BYTES).
  app.post(SUBMISSION_PATHS, express.json({
    limit: submissionJsonLimit(ctx.config), strict: false,
    verify: (req, res, buf) => { noteEmptyBody(req, res, buf); noteBodyBytes(req, res, buf); },
  }));
  app.use(express.json({ limit: ctx.config.MAX_BODY_BYTES, strict: false, verify: noteEmptyBody }));

  const api = new ApiRouter((access) => ctx.auth.guard(access));
  healthRoutes(api, ctx);
  modelRoutes(api, ctx);
  hostRoutes(api, ctx);
  jobRoutes(api, ctx);
  jobEventRoutes(api, ctx);
  keyRoutes(api, ctx);
  const openapi = buildOpenApi(api.docs, version);
  app.use(api.router);
  // The docs and the dashboard take the key as HTTP Basic credentials too, so a browser can open them.
  app.get(OPENAPI_PATH, ctx.auth.guard("any"), (_req, res) => {
    res.json(openapi);
  });
  app.use(DOCS_PATH, ctx.auth.guard("any"), docsRouter(DOCS_PATH, OPENAPI_PATH));

  const board = new ExpressAdapter().setBasePath(DASHBOARD_PATH);
  // The webhook outbox shows beside the models' queues: its failed jobs are the dead letters. A model's
  // queue is added as its events are followed (at start, or when a model installed later gets a job).
  const { addQueue } = createBullBoard({ queues: [new BullMQAdapter(ctx.outbox.queue)], serverAdapter: board });
  ctx.events.on("model", (model) => addQueue(new BullMQAdapter(ctx.jobs.queue(model))));
  app.use(DASHBOARD_PATH, ctx.auth.guard("admin"), board.getRouter());

  app.use(studioRouter());

  app.use(notFoundHandler);
  app.use(errorHandler(ctx.log));
  return app;
}
