import { z } from "zod";
import { EnvironmentProblemSchema, type EnvironmentProblem } from "./generate-queue.js";
import { parseJsonOrUndefined } from "../json.js";

/**
 * What a worker's heartbeat says about it: a Redis hash per worker (string fields, written by the worker
 * every few seconds and read by the API, the other workers of its host and the launcher's views).
 */
export interface WorkerHeartbeat {
  model: string;
  host: string;
  pid: number;
  loaded: boolean;
  busy: boolean;
  reservedBytes: number;
  budgetBytes: number;
  /** Epoch ms of the last job or load; 0 = never. */
  lastUsedAt: number;
  startedAt: number;
  /** Why the worker takes no jobs now (ffmpeg, OUTPUTS_DIR), if it does not. */
  environment: EnvironmentProblem | undefined;
}

/** The `environment` field: JSON of the problem, empty when there is none; unreadable reads as none. */
const EnvironmentFieldSchema = z
  .string()
  .optional()
  .transform((s) => (s ? EnvironmentProblemSchema.safeParse(parseJsonOrUndefined(s)).data : undefined));

const flag = z.enum(["0", "1"]).transform((v) => v === "1");
const count = z.coerce.number().int().nonnegative();

const HeartbeatHashSchema = z.object({
  model: z.string().min(1),
  host: z.string(),
  pid: count,
  loaded: flag,
  busy: flag,
  reserved_bytes: count,
  budget_bytes: count,
  last_used_at: count,
  started_at: count,
  environment: EnvironmentFieldSchema,
});

/** The hash fields a heartbeat writes. */
export function heartbeatFields(h: WorkerHeartbeat): Record<keyof z.input<typeof HeartbeatHashSchema>, string> {
  return {
    model: h.model,
    host: h.host,
    pid: String(h.pid),
    loaded: h.loaded ? "1" : "0",
    busy: h.busy ? "1" : "0",
    reserved_bytes: String(h.reservedBytes),
    budget_bytes: String(h.budgetBytes),
    last_used_at: String(h.lastUsedAt),
    started_at: String(h.startedAt),
    environment: h.environment ? JSON.stringify(h.environment) : "",
  };
}

/** A heartbeat hash read back; undefined when it is gone or not one this version can read. */
export function readHeartbeat(hash: Record<string, string>): WorkerHeartbeat | undefined {
  const parsed = HeartbeatHashSchema.safeParse(hash);
  if (!parsed.success) return undefined;
  const h = parsed.data;
  return {
    model: h.model,
    host: h.host,
    pid: h.pid,
    loaded: h.loaded,
    busy: h.busy,
    reservedBytes: h.reserved_bytes,
    budgetBytes: h.budget_bytes,
    lastUsedAt: h.last_used_at,
    startedAt: h.started_at,
    environment: h.environment,
  };
}
