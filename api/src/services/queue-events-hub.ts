import { EventEmitter } from "node:events";
import { QueueEvents, type QueueEventsListener } from "bullmq";
import type { Redis } from "ioredis";
import {
  BullLayout,
  QUEUE_EVENT_KINDS,
  createRedis,
  isQueueEventKind,
  progressOf,
  queueName,
  type Config,
  type RedisTarget,
  type Progress,
  type QueueEventKind,
} from "@videosdgx/shared";

/** A BullMQ event the API follows; `id` is the event's entry id in the queue's Redis stream. */
export interface QueueEvent {
  id: string;
  kind: QueueEventKind;
  model: string;
  jobId: string;
  /** completed: BullMQ's returnvalue; failed: failedReason. */
  detail?: unknown;
  /** progress: the progress the worker reported with this event. */
  progress?: Progress;
}

/** BullMQ's listeners, and the platform's own custom event (published by the API's job store). */
interface PlatformQueueEvents extends QueueEventsListener {
  cancelled: (args: { jobId: string }, id: string) => void;
}

/**
 * One QueueEvents reader per model for the whole API process (metrics, live job streams), re-emitting
 * every event as `event` and per job as `job:<id>`. Workers on any host publish into the same streams.
 * Models are followed from the first time they are asked for, so one installed after the API started
 * (models pull) has its events too; `model` announces each newly followed one (the dashboard adds it).
 */
export class QueueEventsHub extends EventEmitter<{ event: [QueueEvent]; model: [string]; [jobTopic: `job:${string}`]: [QueueEvent] }> {
  private readonly followed = new Map<string, Promise<void>>();
  private readonly readers: QueueEvents[] = [];
  /** The readers' connections: BullMQ leaves a connection it was given open when its reader closes. */
  private readonly connections: Redis[] = [];

  constructor(private readonly config: Config, private readonly redis: Redis, private readonly target: RedisTarget) {
    super();
    this.setMaxListeners(0); // one listener per open event stream
  }

  /**
   * Follows the model's events from its stream's newest entry as this is called (once per model): a
   * caller that reads the job after this resolves misses nothing, whatever the reader's start-up time.
   */
  follow(model: string): Promise<void> {
    let started = this.followed.get(model);
    if (!started) {
      started = this.startReader(model);
      this.followed.set(model, started);
      started.then(() => this.emit("model", model), () => this.followed.delete(model));
    }
    return started;
  }

  private async startReader(model: string): Promise<void> {
    const lastEventId = await this.latestId(model);
    const connection = createRedis(this.target, "worker", `vdgx-api-events-${model}`);
    this.connections.push(connection);
    const reader = new QueueEvents(queueName(model), { connection, prefix: this.config.QUEUE_PREFIX, lastEventId });
    reader.on("error", () => undefined);
    for (const kind of QUEUE_EVENT_KINDS) {
      reader.on<PlatformQueueEvents>(kind, (args: { jobId: string; returnvalue?: unknown; failedReason?: string; data?: unknown }, id: string) => {
        const detail = kind === "completed" ? args.returnvalue : kind === "failed" ? args.failedReason : undefined;
        const event: QueueEvent = { id, kind, model, jobId: args.jobId, detail, ...withProgress(kind, args.data) };
        this.emit("event", event);
        this.emit(`job:${args.jobId}`, event);
      });
    }
    this.readers.push(reader);
  }

  private streamKey(model: string): string {
    return new BullLayout(this.config.QUEUE_PREFIX).events(queueName(model));
  }

  /** Id of the newest event of the model's stream ("0-0" when empty): where a new listener starts. */
  async latestId(model: string): Promise<string> {
    const [entry] = (await this.redis.xrevrange(this.streamKey(model), "+", "-", "COUNT", 1)) as [string, string[]][];
    return entry?.[0] ?? "0-0";
  }

  /** The model's events after `afterId` (exclusive), oldest first, as kept by the stream's cap. */
  async since(model: string, afterId: string): Promise<QueueEvent[]> {
    const entries = (await this.redis.xrange(this.streamKey(model), `(${afterId}`, "+", "COUNT", 10000)) as [string, string[]][];
    return entries.flatMap(([id, flat]) => {
      const e = BullLayout.event(id, flat);
      return isQueueEventKind(e.event) && e.jobId ? [{ id, kind: e.event, model, jobId: e.jobId, ...withProgress(e.event, e.data) }] : [];
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.close()));
    for (const c of this.connections) c.disconnect();
  }
}

function withProgress(kind: QueueEventKind, data: unknown): { progress?: Progress } {
  const progress = progressOf(kind, data);
  return progress ? { progress } : {};
}
