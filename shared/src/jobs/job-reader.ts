import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { BullLayout } from "../bullmq/layout.js";
import type { Config } from "../config.js";
import { generateQueue, queueName, type GENERATE_JOB, type JobData, type JobOutput } from "../contracts/generate-queue.js";
import { openQueue } from "../contracts/queue-contract.js";
import { NotFoundError, ServiceUnavailableError } from "../errors.js";
import { isListedModel } from "../models/inspect.js";
import { defaultJobOptions, modelOfJobId, redisKeys } from "../queues.js";
import type { JobResource } from "../schemas/job-resource.js";
import { WebhookDeliveryLog } from "../webhooks/delivery-log.js";
import { toJobResource, type GenerationJob } from "./job-view.js";
import { modelEnvironmentProblem, RecentLiveWorkers } from "./live-workers.js";

/** Which jobs a caller may see: every job (admin, and the platform's own readers), or one API key's. */
export type JobScope = { all: true } | { owner: string };
export const ALL_JOBS: JobScope = { all: true };

/**
 * Reads jobs as users see them (`GET /v1/jobs/:id`), over one BullMQ queue per model. The API and the
 * webhook dispatcher both read through it, so a webhook's payload is exactly what the API shows.
 */
export class JobReader {
  private readonly queues = new Map<string, Queue<JobData, JobOutput, typeof GENERATE_JOB>>();
  protected readonly keys;
  protected readonly bull;
  private readonly webhookLog;
  private readonly liveWorkers;

  constructor(protected readonly config: Config, protected readonly redis: Redis) {
    this.keys = redisKeys(config.QUEUE_PREFIX);
    this.bull = new BullLayout(config.QUEUE_PREFIX);
    this.webhookLog = new WebhookDeliveryLog(redis, this.keys, config);
    this.liveWorkers = new RecentLiveWorkers(redis, this.keys);
  }

  queue(model: string): Queue<JobData, JobOutput, typeof GENERATE_JOB> {
    let q = this.queues.get(model);
    if (!q) {
      q = openQueue(generateQueue, queueName(model), {
        connection: this.redis,
        prefix: this.config.QUEUE_PREFIX,
        defaultJobOptions: defaultJobOptions(this.config),
      });
      q.on("error", () => undefined); // surfaced per request as 503; the connection retries on its own
      this.queues.set(model, q);
    }
    return q;
  }

  /**
   * BullMQ waits for a connection that is not ready yet; a request must not. Once connected, a producer
   * connection fails fast on its own (no offline queue).
   */
  protected requireRedis(redis: Redis = this.redis): void {
    if (redis.status !== "ready") throw new ServiceUnavailableError(`the job store (Redis) is unreachable (${redis.status}); try again shortly`);
  }

  /**
   * The model of an id that can name a job: newJobId's shape, of a model in the catalogue or installed.
   * Any other id is a 404 without Redis, so reading made-up ids makes no queue (and no BullMQ meta key)
   * per new name.
   */
  async requirePossibleId(id: string): Promise<string> {
    const model = modelOfJobId(id);
    if (model === undefined || !(this.queues.has(model) || (await isListedModel(this.config.MODELS_DIR, model)))) {
      throw new NotFoundError(`no job with id ${id}`);
    }
    return model;
  }

  /** A job the caller may see; another key's job is "not found" exactly like a missing one. */
  protected async find(id: string, scope: JobScope): Promise<GenerationJob> {
    const model = await this.requirePossibleId(id);
    this.requireRedis();
    const job = (await this.queue(model).getJob(id)) as GenerationJob | undefined;
    if (!job || !("all" in scope || job.data.owner === scope.owner)) throw new NotFoundError(`no job with id ${id}`);
    return job;
  }

  /** Jobs ahead of this one (0 = next). */
  queuePosition(model: string, id: string): Promise<number | undefined> {
    return this.bull.queuePosition(this.redis, queueName(model), id, this.keys.cancel(""));
  }

  /** `deliveries: false` leaves out the webhook delivery log, for a caller that would drop it (a webhook's own body). */
  protected async view(read: GenerationJob, { deliveries = true } = {}): Promise<JobResource> {
    const [state, cancelled] = await Promise.all([read.getState(), this.redis.exists(this.keys.cancel(read.id!))]);
    // The job was read before its state: if it finished in between, read it again, so a terminal state
    // never shows without its result or its reason.
    const finishedSince = (state === "completed" || state === "failed") && read.finishedOn === undefined;
    const job = finishedSince ? (((await this.queue(read.data.model).getJob(read.id!)) as GenerationJob | undefined) ?? read) : read;
    const [position, webhook] = await Promise.all([
      state === "waiting" ? this.queuePosition(job.data.model, job.id!) : undefined,
      job.data.webhook && deliveries ? this.webhookLog.view(job.id!, job.data.webhook) : undefined,
    ]);
    const view = toJobResource(job, state, cancelled === 1, position, webhook);
    return view.status === "queued" && view.progress.phase === "queued" ? this.withEnvironmentWait(view) : view;
  }

  /** A queued job no worker has picked up waits for what holds its model's workers back, if anything does. */
  private async withEnvironmentWait(view: JobResource): Promise<JobResource> {
    const environment = modelEnvironmentProblem(await this.liveWorkers.get(), view.model);
    return environment ? { ...view, progress: { ...view.progress, phase: "waiting_for_environment", environment } } : view;
  }

  async get(id: string, scope: JobScope, parts: { deliveries?: boolean } = {}): Promise<JobResource> {
    return this.view(await this.find(id, scope), parts);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
