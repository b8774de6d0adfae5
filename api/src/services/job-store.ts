import type { Redis } from "ioredis";
import {
  ConflictError,
  JobReader,
  NotFoundError,
  ServiceUnavailableError,
  newJobId,
  queueName,
  toJobResource,
  type Config,
  type EffectiveParams,
  type GenerationJob,
  type JobData,
  type JobResource,
  type JobStatus,
  type WebhookOutbox,
  type WebhookSubscription,
} from "@videosdgx/shared";

type QueueState = "waiting" | "prioritized" | "delayed" | "active" | "completed" | "failed";
const ALL_STATES: QueueState[] = ["waiting", "prioritized", "delayed", "active", "completed", "failed"];
const STATES_FOR: Record<JobStatus, QueueState[]> = {
  queued: ["waiting", "prioritized", "delayed"],
  running: ["active"],
  completed: ["completed"],
  failed: ["failed"],
  cancelled: ["failed", "waiting", "prioritized", "delayed"],
};

/** Jobs as users see them, over one BullMQ queue per model. The API's only writer of jobs. */
export class JobStore extends JobReader {
  constructor(config: Config, redis: Redis, private readonly outbox: WebhookOutbox) {
    super(config, redis);
  }

  async submit(params: EffectiveParams, id = newJobId(params.model), webhook?: WebhookSubscription): Promise<JobResource> {
    this.requireRedis();
    const data: JobData = webhook ? { ...params, webhook } : params;
    // Every job already waiting is ahead of a new one (FIFO). Sent just before the add on the same
    // connection, the length costs no extra round trip.
    const [ahead, job] = await Promise.all([
      this.redis.llen(this.keys.waitList(queueName(params.model))),
      this.queue(params.model).add("generate", data, { jobId: id }) as Promise<GenerationJob>,
    ]);
    return toJobResource(job, "waiting", false, ahead, webhook && { url: webhook.url, events: webhook.events, deliveries: [] });
  }

  /** A job another request is creating right now (same Idempotency-Key): waits briefly for it to exist. */
  async getSoon(id: string, timeoutMs = 3000): Promise<JobResource> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.get(id);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        if (Date.now() > deadline) throw new ServiceUnavailableError("the first request with this Idempotency-Key is still being processed; retry shortly");
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  async list(models: string[], status: JobStatus | undefined, limit: number): Promise<JobResource[]> {
    this.requireRedis();
    const types = status ? STATES_FOR[status] : ALL_STATES;
    const jobs = (await Promise.all(models.map((m) => this.queue(m).getJobs([...types], 0, limit - 1)))).flat() as GenerationJob[];
    const views = await Promise.all(jobs.filter(Boolean).map((j) => this.view(j)));
    return views
      .filter((v) => !status || v.status === status)
      .sort((a, b) => b.created_at.localeCompare(a.created_at))
      .slice(0, limit);
  }

  /**
   * Marks the job cancelled. A queued job is cancelled at once (its worker finalises it without running
   * it); a running job stops at its next step.
   */
  async cancel(id: string): Promise<JobResource> {
    const job = await this.find(id);
    const state = await job.getState();
    if (state === "completed" || state === "failed") {
      throw new ConflictError(`job ${id} has already finished (${(await this.view(job)).status})`);
    }
    await this.redis.set(this.keys.cancel(id), "1", "EX", this.config.KEEP_FAILED_SECONDS);
    const view = await this.view(job);
    // A queued job is cancelled now, though a worker records it only when it reaches the job: tell the
    // client now. The worker's own report later has the same message id and is not sent twice.
    if (state !== "active") {
      const message = this.outbox.message(view, job.data.webhook, undefined, "cancelled", new Date());
      if (message) await this.outbox.enqueue([message]);
    }
    return view;
  }

  /** Sends one of the job's webhook messages again (default: the latest), with the same id and body. */
  async redeliverWebhook(id: string, messageId: string | undefined): Promise<{ message_id: string; delivery_id: string }> {
    const job = await this.find(id);
    if (!job.data.webhook) throw new ConflictError(`job ${id} has no webhook`);
    const sent = (await this.view(job)).webhook!.deliveries;
    const chosen = messageId ?? sent.at(-1)?.message_id;
    if (!chosen || !sent.some((d) => d.message_id === chosen)) {
      throw new NotFoundError(messageId ? `job ${id} has no webhook message ${messageId}` : `job ${id} has sent no webhook message yet`);
    }
    const original = await this.outbox.find(chosen);
    if (!original) throw new ConflictError(`webhook message ${chosen} is past its retention and cannot be sent again`);
    return { message_id: chosen, delivery_id: await this.outbox.redeliver(original) };
  }

  async videoFile(id: string): Promise<string> {
    const job = await this.find(id);
    const view = await this.view(job);
    if (view.status !== "completed") throw new ConflictError(`job ${id} is ${view.status}; its video exists once it is completed`);
    return job.returnvalue.video_file;
  }

}
