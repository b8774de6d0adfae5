import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { luaScript } from "../memory/lua-scripts.js";

const WAITING_AHEAD = luaScript("waiting-ahead");

/** One entry of a queue's events stream, as BullMQ's scripts write it. */
export interface StreamEvent {
  /** The stream id: "<ms>-<seq>". */
  id: string;
  /** BullMQ's event name: waiting, active, progress, completed, failed, delayed, ... */
  event: string | undefined;
  jobId: string | undefined;
  /** A progress event's progress, as JSON text. */
  data: string | undefined;
  /** A failed event's reason. */
  failedReason: string | undefined;
}

/** BullMQ's stalled-job checker fails a job with this reason when its worker stopped renewing the lock. */
const STALLED_REASON = /stalled more than allowable limit/;

/**
 * The one place that knows how BullMQ lays a queue out in Redis (bullmq is pinned to an exact version;
 * layout.test.ts checks each of these against it). The platform reads these keys directly where BullMQ's
 * API cannot be used: inside Lua (the admission cap), or where it would cost round trips on hot paths
 * (queue positions, the GPU gate, depth, the events stream followed by the webhook dispatcher).
 */
export class BullLayout {
  constructor(readonly prefix: string) {}

  private key(queue: string, part: string): string {
    return `${this.prefix}:${queue}:${part}`;
  }

  /** Lists and sorted sets holding the jobs of a queue that have not started (retries in backoff included). */
  notStarted(queue: string): { wait: string; paused: string; prioritized: string; delayed: string } {
    return { wait: this.key(queue, "wait"), paused: this.key(queue, "paused"), prioritized: this.key(queue, "prioritized"), delayed: this.key(queue, "delayed") };
  }

  /**
   * BullMQ's cap on a queue's events stream (its default `streams.events.maxLen`). A custom event
   * published with a smaller cap would trim the stream for every reader, so ours use this one.
   */
  static readonly EVENTS_MAX_LEN = 10000;

  /** The queue's events stream (BullMQ caps it at EVENTS_MAX_LEN entries, approximately). */
  events(queue: string): string {
    return this.key(queue, "events");
  }

  private jobHash(queue: string, jobId: string): string {
    return this.key(queue, jobId);
  }

  /**
   * Jobs ahead of `jobId` in the wait list (0 = next; workers take from the list's tail), not counting
   * those whose `<cancelledPrefix><id>` key exists: cancelled, waiting only for a worker to record it.
   */
  async queuePosition(redis: Redis, queue: string, jobId: string, cancelledPrefix: string): Promise<number | undefined> {
    const n = (await redis.eval(WAITING_AHEAD, 1, this.key(queue, "wait"), jobId, cancelledPrefix)) as number | null;
    return n ?? undefined;
  }

  /** Jobs in the wait list (priority 0, not delayed) but the cancelled ones: the queue depth shown to users. */
  async waitingCount(redis: Redis, queue: string, cancelledPrefix: string): Promise<number> {
    return (await redis.eval(WAITING_AHEAD, 1, this.key(queue, "wait"), "", cancelledPrefix)) as number;
  }

  /** Submission time (ms) of the job a worker takes next, undefined when none waits. */
  async nextWaitingSince(redis: Redis, queue: string): Promise<number | undefined> {
    const id = await redis.lindex(this.key(queue, "wait"), -1);
    if (!id) return undefined;
    const ts = Number(await redis.hget(this.jobHash(queue, id), "timestamp"));
    return Number.isFinite(ts) && ts > 0 ? ts : undefined;
  }

  /** Whether the job still exists (not yet removed by retention). */
  async jobExists(redis: Redis, queue: string, jobId: string): Promise<boolean> {
    return (await redis.exists(this.jobHash(queue, jobId))) === 1;
  }

  /** A job's data as stored (JSON, unparsed by schema), undefined when the job is gone. */
  async jobData(redis: Redis, queue: string, jobId: string): Promise<unknown> {
    const raw = await redis.hget(this.jobHash(queue, jobId), "data");
    if (raw === null) return undefined;
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw; // not JSON: left for the caller's schema to refuse
    }
  }

  /** Ids of the jobs that finished in `state` at or after `sinceMs`. */
  finishedSince(redis: Redis, queue: string, state: "completed" | "failed", sinceMs: number): Promise<string[]> {
    return redis.zrangebyscore(this.key(queue, state), sinceMs, "+inf");
  }

  /**
   * Names of the queues under the prefix whose names start with `namePrefix`: BullMQ gives a queue its
   * `meta` hash with its first job and never removes it, so a queue keeps being found once its jobs are gone.
   */
  async queues(redis: Redis, namePrefix: string): Promise<string[]> {
    const glob = (s: string) => s.replace(/[*?[\]\\]/g, "\\$&");
    const match = `${glob(this.prefix)}:${glob(namePrefix)}*:meta`;
    const names = new Set<string>();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", match, "COUNT", 1000);
      for (const k of keys) names.add(k.slice(this.prefix.length + 1, -":meta".length));
      cursor = next;
    } while (cursor !== "0");
    return [...names].sort();
  }

  /**
   * Removes the jobs that finished in `state` more than `graceMs` ago (at most `limit`) with BullMQ's own
   * `queue.clean`, and returns their ids: the age rule of removeOnComplete / removeOnFail, which BullMQ
   * applies only when another job of the queue finishes. Asks first whether one is that old: every clean
   * appends a "cleaned" entry to the events stream, which a queue no job finishes in never trims.
   */
  async removeFinishedBefore(redis: Redis, queue: Pick<Queue, "name" | "clean">, state: "completed" | "failed", graceMs: number, limit: number): Promise<string[]> {
    const old = await redis.zrangebyscore(this.key(queue.name, state), "-inf", Date.now() - graceMs, "LIMIT", 0, 1);
    return old.length === 0 ? [] : queue.clean(graceMs, limit, state);
  }

  /** A stream entry's flat `[field, value, ...]` list as an event. */
  static event(id: string, flat: readonly string[]): StreamEvent {
    const f = fieldsOf(flat);
    return { id, event: f.event, jobId: f.jobId, data: f.data, failedReason: f.failedReason };
  }

  /** Whether a failed reason is BullMQ's own for a job whose worker died (no reason of ours). */
  static isStalledReason(reason: string): boolean {
    return STALLED_REASON.test(reason);
  }
}

/** A flat `[field, value, ...]` reply (stream entries, XINFO) as an object. */
export function fieldsOf(flat: readonly unknown[]): Record<string, string> {
  const f: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < flat.length; i += 2) f[String(flat[i])] = String(flat[i + 1]);
  return f;
}
