import { z } from "zod";
import { EnvironmentProblemSchema, WorkerViewSchema } from "@videosdgx/shared";
import type { AppContext } from "../context.js";
import type { ApiRouter } from "../http/api-router.js";

const HostViewSchema = z.object({
  host: z.string(),
  models: z.array(z.string()),
  workers: z.array(WorkerViewSchema),
  memory: z.object({ budget_bytes: z.number(), reserved_bytes: z.number(), high_water_bytes: z.number(), reservations: z.record(z.string(), z.number()) }),
  environment_problems: z.array(EnvironmentProblemSchema.extend({ worker: z.string(), model: z.string() })),
});

export function hostRoutes(api: ApiRouter, ctx: AppContext): void {
  api.route(
    {
      method: "get", path: "/v1/hosts", tag: "models", access: "any",
      summary: "Every host with a live worker (by HOST_ID): its workers, its own memory budget and reservations, what keeps its workers from taking jobs",
      responses: { 200: { description: "hosts", schema: z.object({ hosts: z.array(HostViewSchema) }) } },
    },
    async (_req, res) => {
      res.json({ hosts: await ctx.models.hosts() });
    },
  );
}
