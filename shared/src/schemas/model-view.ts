import { z } from "zod";
import { EnvironmentProblemSchema } from "../contracts/generate-queue.js";

/** A live worker as its heartbeat describes it (jobs/live-workers.ts): in GET /v1/models and /v1/hosts. */
export const WorkerViewSchema = z.object({
  id: z.string(), model: z.string(), host: z.string(), pid: z.number(), loaded: z.boolean(), busy: z.boolean(),
  reserved_bytes: z.number(), budget_bytes: z.number(), last_used_at: z.string().nullable(),
  environment: EnvironmentProblemSchema.nullable(),
});

/** A model as `GET /v1/models` shows it: installed or not (and why), loaded, its workers and rules. */
export const ModelViewSchema = z.object({
  name: z.string(),
  display_name: z.string(),
  license: z.string(),
  installed: z.boolean(),
  reason: z.string().optional(),
  loaded: z.boolean(),
  queue_depth: z.number().int(),
  measured_bytes: z.record(z.string(), z.number()),
  workers: z.array(WorkerViewSchema),
  /** Every live worker of the model takes no jobs because of its host: jobs wait until this is fixed. */
  environment: EnvironmentProblemSchema.optional(),
  constraints: z.unknown().optional(),
  /** Steps must also be a multiple of this (the manifest's sampling.steps_multiple, magi's window size); absent: any in constraints.steps. */
  steps_multiple: z.number().int().positive().optional(),
  capabilities: z.unknown().optional(),
  memory: z.unknown().optional(),
});
export type ModelView = z.infer<typeof ModelViewSchema>;

export const ModelListSchema = z.object({ models: z.array(ModelViewSchema) });
