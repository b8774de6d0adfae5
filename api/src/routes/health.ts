import { z } from "zod";
import { EnvironmentProblemSchema } from "@videosdgx/shared";
import type { AppContext } from "../context.js";
import type { ApiRouter } from "../http/api-router.js";

const ReadySchema = z.object({
  ready: z.boolean(),
  redis: z.enum(["ok", "unreachable"]),
  workers: z.number().int(),
  models_with_workers: z.array(z.string()),
  /** Workers that take no jobs because their host cannot run them (ffmpeg, OUTPUTS_DIR, the output store): fix these. */
  environment_problems: z.array(EnvironmentProblemSchema.extend({ worker: z.string(), model: z.string(), host: z.string() })),
  /** Why not ready, in words; empty when ready. */
  reasons: z.array(z.string()),
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
      method: "get", path: "/readyz", tag: "health", summary: "Redis reachable, at least one worker alive, and no worker held up by its environment", access: "public",
      responses: { 200: { description: "ready", schema: ReadySchema }, 503: { description: "not ready", schema: ReadySchema } },
    },
    async (_req, res) => {
      const redisOk = await ctx.ping().then(() => true, () => false);
      const workers = redisOk ? await ctx.models.liveWorkers().catch(() => []) : [];
      const problems = workers.flatMap((w) => (w.environment ? [{ worker: w.id, model: w.model, host: w.host, ...w.environment }] : []));
      const reasons = [
        ...(redisOk ? [] : ["Redis is unreachable"]),
        ...(redisOk && workers.length === 0 ? ["no worker is alive"] : []),
        ...problems.map((p) => `worker ${p.worker} (${p.model}) on host ${p.host} takes no jobs: ${p.message}`),
      ];
      const ready = reasons.length === 0;
      res.status(ready ? 200 : 503).json({
        ready,
        redis: redisOk ? "ok" : "unreachable",
        workers: workers.length,
        models_with_workers: [...new Set(workers.map((w) => w.model))].sort(),
        environment_problems: problems,
        reasons,
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
