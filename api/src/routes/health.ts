import { z } from "zod";
import type { AppContext } from "../context.js";
import type { ApiRouter } from "../http/api-router.js";

const ReadySchema = z.object({
  ready: z.boolean(),
  redis: z.enum(["ok", "unreachable"]),
  workers: z.number().int(),
  models_with_workers: z.array(z.string()),
});

export function healthRoutes(api: ApiRouter, ctx: AppContext): void {
  api.route(
    {
      method: "get", path: "/healthz", tag: "health", summary: "The API process is up", access: "public",
      responses: { 200: { description: "alive", schema: z.object({ status: z.literal("ok") }) } },
    },
    (_req, res) => {
      res.json({ status: "ok" });
    },
  );

  api.route(
    {
      method: "get", path: "/readyz", tag: "health", summary: "Redis reachable and at least one worker alive", access: "public",
      responses: { 200: { description: "ready", schema: ReadySchema }, 503: { description: "not ready", schema: ReadySchema } },
    },
    async (_req, res) => {
      const redisOk = await ctx.ping().then(() => true, () => false);
      const workers = redisOk ? await ctx.models.liveWorkers().catch(() => []) : [];
      const ready = redisOk && workers.length > 0;
      res.status(ready ? 200 : 503).json({
        ready,
        redis: redisOk ? "ok" : "unreachable",
        workers: workers.length,
        models_with_workers: [...new Set(workers.map((w) => w.model))].sort(),
      });
    },
  );

  api.route(
    {
      method: "get", path: "/metrics", tag: "health", access: "admin",
      summary: "Prometheus metrics (admin: they describe every model's queue and the host's memory)",
      responses: { 200: { description: "text exposition format", contentType: "text/plain" } },
    },
    async (_req, res) => {
      res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
    },
  );
}
