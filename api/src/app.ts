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
import { securityHeaders } from "./http/security-headers.js";
import { studioRouter } from "./http/studio-page.js";
import { noteEmptyBody } from "./http/validate.js";
import { healthRoutes } from "./routes/health.js";
import { jobEventRoutes } from "./routes/job-events.js";
import { jobRoutes } from "./routes/jobs.js";
import { keyRoutes } from "./routes/keys.js";
import { modelRoutes } from "./routes/models.js";

export const DASHBOARD_PATH = "/admin/queues";
export const DOCS_PATH = "/docs";
export const OPENAPI_PATH = "/openapi.json";

/** The HTTP surface: routes, dashboard, docs, and the single error mapping. */
export function createApp(ctx: AppContext, modelNames: string[], version: string): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // Job resources change with every step; a hash of each JSON body would be CPU spent on every request.
  app.set("etag", false);
  app.use(requestContext(ctx.log));
  app.use(securityHeaders);
  app.use(express.json({ limit: ctx.config.MAX_BODY_BYTES, strict: false, verify: noteEmptyBody }));

  const api = new ApiRouter((access) => ctx.auth.guard(access));
  healthRoutes(api, ctx);
  modelRoutes(api, ctx);
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
  // The webhook outbox shows beside the models' queues: its failed jobs are the dead letters.
  const queues = [...modelNames.map((m) => ctx.jobs.queue(m)), ctx.outbox.queue];
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter: board });
  app.use(DASHBOARD_PATH, ctx.auth.guard("admin"), board.getRouter());

  app.use(studioRouter());

  app.use(notFoundHandler);
  app.use(errorHandler(ctx.log));
  return app;
}
