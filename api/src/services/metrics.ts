import client from "prom-client";
import { JobOutputSchema, readFailure, type Progress } from "@videosdgx/shared";
import type { JobStore } from "./job-store.js";
import type { QueueEventsHub } from "./queue-events-hub.js";

const PHASES = ["load", "encode_text", "denoise", "decode", "encode_video", "total"] as const;

/**
 * Prometheus metrics. Job counts are read from BullMQ at scrape time; phase durations and model loads
 * come from the completion events the workers publish, so one API sees every worker on every host.
 */
export class Metrics {
  readonly registry = new client.Registry();
  private readonly phaseSeconds = new client.Histogram({
    name: "vdgx_job_phase_seconds",
    help: "Time per pipeline phase of completed jobs",
    labelNames: ["model", "phase"],
    buckets: [0.05, 0.25, 1, 5, 15, 60, 180, 600, 1800],
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

  constructor(store: JobStore, models: () => Promise<string[]>) {
    client.collectDefaultMetrics({ register: this.registry, prefix: "vdgx_api_" });
    this.registerMemoryWaitGauges(store, models);
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

  /** Jobs blocked before loading their model, and what they wait for: read from the active jobs' progress. */
  private registerMemoryWaitGauges(store: JobStore, models: () => Promise<string[]>): void {
    // Registered second, so it is written out after the gauge whose collect() fills it.
    const bytes = new client.Gauge({
      name: "vdgx_memory_wait_bytes",
      help: "For the first such job per model: bytes needed, available on the host, held by other models",
      labelNames: ["model", "kind"],
      registers: [],
    });
    new client.Gauge({
      name: "vdgx_jobs_waiting_for_memory",
      help: "Running jobs waiting for memory before their model can load",
      labelNames: ["model"],
      registers: [this.registry],
      async collect() {
        this.reset();
        bytes.reset();
        for (const model of await models()) {
          const active = await store.queue(model).getActive();
          const waits = active.map((j) => (j.progress as Progress | undefined)?.memory).filter((m) => m !== undefined);
          this.set({ model }, waits.length);
          const w = waits[0];
          if (!w) continue;
          bytes.set({ model, kind: "needed" }, w.needed_bytes);
          bytes.set({ model, kind: "available" }, w.available_bytes);
          bytes.set({ model, kind: "held_by_others" }, w.held_by_others_bytes);
        }
      },
    });
    this.registry.registerMetric(bytes);
  }

  /** Completions and failures from every worker, through the API's one events reader per model. */
  watch(hub: QueueEventsHub): void {
    hub.on("event", (e) => {
      if (e.kind === "completed") this.onCompleted(e.model, e.detail);
      if (e.kind === "failed") {
        const status = readFailure(String(e.detail)).code === "cancelled" ? "cancelled" : "failed";
        this.finished.inc({ model: e.model, status });
      }
    });
  }

  private onCompleted(model: string, raw: unknown): void {
    this.finished.inc({ model, status: "completed" });
    const parsed = JobOutputSchema.safeParse(typeof raw === "string" ? JSON.parse(raw) : raw);
    if (!parsed.success) return;
    const t = parsed.data.timings;
    for (const phase of PHASES) {
      const ms = t[`${phase}_ms`];
      if (ms !== undefined) this.phaseSeconds.observe({ model, phase }, ms / 1000);
    }
    if (t.load_ms !== undefined) this.modelLoads.inc({ model });
  }
}
