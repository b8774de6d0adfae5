import { ProgressSchema, type Progress } from "../contracts/generate-queue.js";
import type { JobResource, JobStatus } from "../schemas/job-resource.js";
import { parseJsonOrUndefined } from "../json.js";

/**
 * The events the platform follows in each queue's events stream: BullMQ's own, and `cancelled`, which
 * the API publishes (a custom event) when it cancels a job that has not started, so every listener
 * learns it then and not when a worker reaches the job.
 */
export const QUEUE_EVENT_KINDS = ["waiting", "active", "progress", "completed", "failed", "delayed", "cancelled"] as const;
export type QueueEventKind = (typeof QUEUE_EVENT_KINDS)[number];

export const isQueueEventKind = (s: string | undefined): s is QueueEventKind => QUEUE_EVENT_KINDS.includes(s as QueueEventKind);

/** Redis stream ids are "<ms>-<seq>": compared as numbers, part by part. */
export function isAfterStreamId(a: string, b: string): boolean {
  const [am, as] = a.split("-").map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split("-").map(BigInt) as [bigint, bigint];
  return am > bm || (am === bm && as > bs);
}

const STREAM_ID_PART_MAX = 2n ** 64n - 1n;

/**
 * A full stream id ("<ms>-<seq>") that Redis accepts as the exclusive start of a range: both parts
 * unsigned 64-bit numbers, and not the largest id (nothing can follow it).
 */
export function isResumableStreamId(s: string): boolean {
  const m = /^(\d{1,20})-(\d{1,20})$/.exec(s);
  if (!m) return false;
  const [ms, seq] = [BigInt(m[1]!), BigInt(m[2]!)];
  return ms <= STREAM_ID_PART_MAX && seq <= STREAM_ID_PART_MAX && !(ms === STREAM_ID_PART_MAX && seq === STREAM_ID_PART_MAX);
}

/** When the entry was written. */
export const streamIdTime = (id: string): number => Number(id.split("-")[0]);

/** A stream id as a sortable score (sorted sets): exact for sequence numbers below 1000. */
export function streamIdScore(id: string): number {
  const [ms, seq] = id.split("-").map(Number) as [number, number];
  return ms * 1000 + Math.min(seq, 999);
}

/** A progress event's own progress (ours is always an object with a phase); stream fields hold it as JSON. */
export function progressOf(kind: QueueEventKind, data: unknown): Progress | undefined {
  if (kind !== "progress") return undefined;
  return ProgressSchema.safeParse(typeof data === "string" ? parseJsonOrUndefined(data) : data).data;
}

/**
 * A progress report announcing a chunk's frames downloadable is a client's `chunk` event (job.chunk), one
 * announcing a new preview its `preview` event.
 */
export function clientEventOf(kind: QueueEventKind, progress: Progress | undefined): string {
  if (kind !== "progress") return kind;
  if (progress?.chunk !== undefined) return "chunk";
  return progress?.new_preview ? "preview" : kind;
}

const STATUS_AT: Partial<Record<QueueEventKind, JobStatus>> = { waiting: "queued", delayed: "queued", active: "running", progress: "running", cancelled: "cancelled" };

/**
 * The job as the event saw it. A resource is read when an event is sent, which for a replayed or late
 * event is after later events: its status and progress are taken from the event itself.
 */
export function asOfEvent(kind: QueueEventKind, progress: Progress | undefined, job: JobResource): JobResource {
  const status = STATUS_AT[kind];
  const own = progress ? { progress } : {};
  if (!status || status === job.status) return { ...job, ...own };
  const { result: _result, error: _error, finished_at: _finished, queue_position: _position, ...earlier } = job;
  return { ...earlier, status, ...own };
}
