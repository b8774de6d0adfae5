import type { Redis } from "ioredis";
import client from "prom-client";
import {
  JobOutputSchema,
  MemoryWaitSchema,
  TimingsSchema,
  readDeliveryTotals,
  readFailure,
  type MemoryWait,
  type Progress,
  type RedisKeys,
  type WebhookOutbox,
  type WorkerInfo,
} from "@videosdgx/shared";
import type { JobStore } from "./job-store.js";
import type { QueueEventsHub } from "./queue-events-hub.js";

/** Every timing a job reports (wait_for_gpu, load, denoise, ..., total), named without `_ms`. */
const PHASES = Object.keys(TimingsSchema.shape).map((k) => k.replace(/_ms$/, ""));
const PHASE_BUCKETS = [0.05, 0.25, 1, 5, 15, 60, 180, 600, 1800];

export interface MetricsSources {
  store: JobStore;
  outbox: WebhookOutbox;
  redis: Redis;
  keys: RedisKeys;
  models: () => Promise<string[]>;
  liveWorkers: () => Promise<WorkerInfo[]>;
}

/**
 * One read shared by every collect() of a scrape: prom-client starts all of them at once, so metrics
 * filled from the same source (the workers' heartbeats, the active jobs) see the same values.
 */
function perScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => (pending ??= read().finally(() => (pending = undefined)));
}

/**
 * Prometheus metrics, all exposed by the API (workers and the webhook process expose none of their own).
 * Job counts, workers, memory and webhook totals are read from Redis at scrape time; phase durations,
 * step times, queue waits and model loads come from the events the workers publish, so one API sees
 * every worker on every host.
 */
export class Metrics {
  readonly registry = new client.Registry();
  private readonly phaseSeconds = new client.Histogram({
    name: "vdgx_job_phase_seconds",
    help: "Time per phase of completed jobs (waits for the GPU and memory, model load, pipeline stages, total)",
    labelNames: ["model", "phase"],
    buckets: PHASE_BUCKETS,
    registers: [this.registry],
  });
  private readonly stepSeconds = new client.Histogram({
    name: "vdgx_job_step_seconds",
    help: "Mean time per denoising step of each completed job (denoise time / steps)",
    labelNames: ["model"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly queueWaitSeconds = new client.Histogram({
    name: "vdgx_job_queue_wait_seconds",
    help: "Time from submission until a worker first took the job",
    labelNames: ["model"],
    buckets: PHASE_BUCKETS,
    registers: [this.registry],
  });
  private readonly finished = new client.Counter({
    name: "vdgx_jobs_finished_total",
    help: "Jobs that reached a terminal state, by outcome",
    labelNames: ["model", "status"],
    registers: [this.registry],
  });
  private readonly modelLoads = new client.Counter({
    name: "vdgx_model_loads_total",
    help: "Model loads performed for jobs",
    labelNames: ["model"],
    registers: [this.registry],
  });
  private readonly requestSeconds = new client.Histogram({
    name: "vdgx_http_request_duration_seconds",
    help: "API requests until their response ended, by route (the documented path; other = pages, docs, dashboard, 404s)",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });

  constructor(private readonly sources: MetricsSources) {
    client.collectDefaultMetrics({ register: this.registry, prefix: "vdgx_api_" });
    this.registerJobGauges();
    // One read of the workers' heartbeats per scrape, for every metric built from it.
    const workers = perScrape(this.sources.liveWorkers);
    this.registerMemoryWaitGauges(workers);
    this.registerWorkerGauges(workers);
    this.registerWebhookMetrics();
  }

  /** One API request, timed by the request-metrics middleware. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requestSeconds.observe({ method, route, status: String(status) }, seconds);
  }

  private registerJobGauges(): void {
    const { store, models } = this.sources;
    new client.Gauge({
      name: "vdgx_jobs",
      help: "Jobs currently held per model and BullMQ state",
      labelNames: ["model", "state"],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const model of await models()) {
          const counts = await store.queue(model).getJobCounts("waiting", "prioritized", "delayed", "active", "completed", "failed");
          for (const [state, n] of Object.entries(counts)) this.set({ model, state }, n);
        }
      },
    });
  }

  /**
   * Jobs blocked before loading their model, and what they wait for, per host and model: read from the
   * active jobs' progress, whose `memory.host` is the host whose memory a job waits for (each host has a
   * budget of its own, so waits on two hosts are two facts). Every host with a live worker of a model
   * shows its count, 0 included, so that a panel has a line per host before anything waits.
   */
  private registerMemoryWaitGauges(workers: () => Promise<WorkerInfo[]>): void {
    const { store, models } = this.sources;
    const waits = perScrape(async () => {
      const groups = new Map<string, { labels: { host: string; model: string }; waits: MemoryWait[] }>();
      const group = (host: string, model: string) => {
        const key = JSON.stringify([host, model]);
        const g = groups.get(key) ?? { labels: { host, model }, waits: [] };
        groups.set(key, g);
        return g;
      };
      for (const w of await workers()) group(w.host, w.model);
      const active = await Promise.all((await models()).map(async (model) => ({ model, jobs: await store.queue(model).getActive() })));
      for (const { model, jobs } of active) {
        for (const job of jobs) {
          // Read through its schema: a job reported by another version shows what is readable.
          const memory = MemoryWaitSchema.safeParse((job.progress as Progress | undefined)?.memory).data;
          if (memory) group(memory.host, model).waits.push(memory);
        }
      }
      return [...groups.values()];
    });
    new client.Gauge({
      name: "vdgx_jobs_waiting_for_memory",
      help: "Running jobs waiting for the host's memory before their model can load",
      labelNames: ["host", "model"],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const { labels, waits: w } of await waits()) this.set(labels, w.length);
      },
    });
    new client.Gauge({
      name: "vdgx_memory_wait_bytes",
      help: "For the first such job per host and model: bytes needed, available on the host, held there by other models",
      labelNames: ["host", "model", "kind"],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const { labels, waits: [w] } of await waits()) {
          if (!w) continue;
          this.set({ ...labels, kind: "needed" }, w.needed_bytes);
          this.set({ ...labels, kind: "available" }, w.available_bytes);
          this.set({ ...labels, kind: "held_by_others" }, w.held_by_others_bytes);
        }
      },
    });
  }

  /** Per host and model, from the live workers' heartbeats: workers alive, loaded models, the memory budget and what holds it. */
  private registerWorkerGauges(workers: () => Promise<WorkerInfo[]>): void {
    const byHostModel = async () => {
      const groups = new Map<string, WorkerInfo[]>();
      for (const w of await workers()) {
        const key = JSON.stringify([w.host, w.model]);
        groups.set(key, [...(groups.get(key) ?? []), w]);
      }
      return [...groups].map(([key, ws]) => {
        const [host, model] = JSON.parse(key) as [string, string];
        return { labels: { host, model }, ws };
      });
    };
    const perGroup = (name: string, help: string, value: (ws: WorkerInfo[]) => number) =>
      new client.Gauge({
        name,
        help,
        labelNames: ["host", "model"],
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const { labels, ws } of await byHostModel()) this.set(labels, value(ws));
        },
      });
    perGroup("vdgx_workers_alive", "Workers whose heartbeat is current", (ws) => ws.length);
    perGroup("vdgx_workers_busy", "Workers running a job now", (ws) => ws.filter((w) => w.busy).length);
    perGroup("vdgx_model_loaded", "1 while a worker of the model on the host has it loaded (resident)", (ws) => (ws.some((w) => w.loaded) ? 1 : 0));
    perGroup("vdgx_memory_reserved_bytes", "Bytes of the host's memory budget the model's workers hold", (ws) => ws.reduce((s, w) => s + w.reserved_bytes, 0));
    new client.Gauge({
      name: "vdgx_memory_budget_bytes",
      help: "The host's memory budget for models, as its workers report it",
      labelNames: ["host"],
      registers: [this.registry],
      async collect() {
        this.reset();
        const budgets = new Map<string, number>();
        for (const w of await workers()) budgets.set(w.host, Math.max(budgets.get(w.host) ?? 0, w.budget_bytes));
        for (const [host, bytes] of budgets) this.set({ host }, bytes);
      },
    });
  }

  /** The webhook outbox's messages by state, and the delivery totals the webhook process keeps in Redis. */
  private registerWebhookMetrics(): void {
    const { outbox, redis, keys } = this.sources;
    const totals = perScrape(() => readDeliveryTotals(redis, keys));
    new client.Gauge({
      name: "vdgx_webhook_messages",
      help: "Webhook messages in the outbox by state (failed = dead letters kept for inspection)",
      labelNames: ["state"],
      registers: [this.registry],
      async collect() {
        this.reset();
        const counts = await outbox.queue.getJobCounts("waiting", "delayed", "active", "completed", "failed");
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    // Counters set from Redis: the totals survive API restarts and count every webhook process.
    new client.Counter({
      name: "vdgx_webhook_deliveries_total",
      help: "Webhook delivery attempts by outcome (delivered, retrying, dead, gone) and messages skipped after a 410",
      labelNames: ["outcome"],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const [outcome, n] of Object.entries((await totals()).outcomes)) this.inc({ outcome }, n);
      },
    });
    new client.Counter({
      name: "vdgx_webhook_delivery_seconds_total",
      help: "Time spent in webhook delivery attempts (divide by the attempts for the mean)",
      registers: [this.registry],
      async collect() {
        this.reset();
        this.inc((await totals()).attemptSeconds);
      },
    });
  }

  /** Job events from every worker, through the API's one events reader per model. */
  watch(hub: QueueEventsHub): void {
    hub.on("event", (e) => {
      if (e.kind === "completed") this.onCompleted(e.model, e.detail);
      if (e.kind === "failed") {
        const status = readFailure(String(e.detail)).code === "cancelled" ? "cancelled" : "failed";
        this.finished.inc({ model: e.model, status });
      }
      if (e.kind === "active") void this.onStarted(e.model, e.jobId).catch(() => undefined);
      // The last report of a completed job carries its steps and its denoise time.
      const p = e.progress;
      if (p?.phase === "done" && p.total > 0 && p.timings.denoise_ms !== undefined) {
        this.stepSeconds.observe({ model: e.model }, p.timings.denoise_ms / 1000 / p.total);
      }
    });
  }

  /** The wait in the queue, once per job: a retried or recovered attempt's start is not a new wait. */
  private async onStarted(model: string, jobId: string): Promise<void> {
    const job = await this.sources.store.queue(model).getJob(jobId);
    if (!job?.processedOn || job.attemptsStarted > 1) return;
    this.queueWaitSeconds.observe({ model }, Math.max(0, job.processedOn - job.timestamp) / 1000);
  }

  private onCompleted(model: string, raw: unknown): void {
    this.finished.inc({ model, status: "completed" });
    const parsed = JobOutputSchema.safeParse(typeof raw === "string" ? JSON.parse(raw) : raw);
    if (!parsed.success) return;
    const t = parsed.data.timings;
    for (const phase of PHASES) {
      const ms = t[`${phase}_ms` as keyof typeof t];
      if (ms !== undefined) this.phaseSeconds.observe({ model, phase }, ms / 1000);
    }
    if (t.load_ms !== undefined) this.modelLoads.inc({ model });
  }
}
