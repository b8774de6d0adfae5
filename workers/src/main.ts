import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import {
  BullLayout,
  createLogger,
  generateQueue,
  createRedis,
  redisTargetOf,
  ExitCode,
  GpuSlots,
  inspectModel,
  loadConfigOrExit,
  openInputStore,
  memoryBudget,
  MemoryLedger,
  openOutputStore,
  queueName,
  readFailure,
  readMemInfo,
  redisKeys,
  Retention,
  startWorker,
} from "@videosdgx/shared";
import { Heartbeat } from "./jobs/heartbeat.js";
import { sweepInputs } from "./jobs/input-retention.js";
import { createProcessor } from "./jobs/process-job.js";
import { onSessionThreadDeath, startSessionThread } from "./onnx/session-thread.js";
import { previewsState } from "./preview/previewer.js";
import { EnvironmentMonitor } from "./runtime/environment-monitor.js";
import { closePreviewEncoder } from "./video/preview-jpegs.js";
import { GpuGate } from "./runtime/gpu-gate.js";
import { MemoryGuard } from "./runtime/memory-guard.js";
import { ModelHost } from "./runtime/model-host.js";
import { checkExecutionProviders, sessionOptions } from "./runtime/session-options.js";

/** One worker process serves one model: `node workers/dist/main.js --model tiny`. */
const MODEL_CHECK_MS = 5000;
const INPUT_SWEEP_MS = 3600_000;
const config = loadConfigOrExit("worker");
const log = createLogger("worker", config.LOG_LEVEL);
const fail = (message: string): never => {
  process.stderr.write(`worker: ${message}\n`);
  process.exit(ExitCode.config);
};

// --wait-for-model: a model not (yet) installed is waited for instead of exiting, so a container restarted on
// every exit does not loop while the folder is being downloaded or copied.
const { values } = parseArgs({ options: { model: { type: "string" }, "wait-for-model": { type: "boolean" } } });
const model = values.model ?? fail("--model NAME is required");
const redisTarget = redisTargetOf(config) ?? fail("REDIS_URL or REDIS_SENTINELS is required for a worker (npm start sets REDIS_URL for the workers it starts)");
try {
  await checkExecutionProviders(config);
  await startSessionThread();
} catch (err) {
  fail((err as Error).message);
}
let state = await inspectModel(config.MODELS_DIR, model);
for (let said = ""; !state.installed && values["wait-for-model"]; state = await inspectModel(config.MODELS_DIR, model)) {
  if (state.reason !== said) log.warn("model not installed; waiting for it", { model, reason: (said = state.reason), check_every_s: MODEL_CHECK_MS / 1000 });
  await sleep(MODEL_CHECK_MS);
}
const manifest = state.installed ? state.manifest : fail(`model ${model} is not installed: ${state.reason}`);
let budget = 0;
try {
  budget = memoryBudget(config.MEMORY_BUDGET_BYTES, config.MEMORY_RESERVE_BYTES, await readMemInfo());
} catch (err) {
  fail((err as Error).message);
}

const keys = redisKeys(config.QUEUE_PREFIX);
const redis = createRedis(redisTarget, "worker", `vdgx-worker-${model}`);
const shutdown = new AbortController();
const hostId = config.HOST_ID;
const workerId = `${hostId}-${process.pid}`;
const store = openOutputStore(config, workerId);
const inputs = openInputStore(config, store);
const ledger = new MemoryLedger(redis, config.QUEUE_PREFIX, hostId, budget, config.MEMORY_LEASE_MS);
const gpuSlots = new GpuSlots(redis, config.QUEUE_PREFIX, hostId, config.GPU_CONCURRENCY, config.MEMORY_LEASE_MS);
const gpu = new GpuGate({ slots: gpuSlots, redis, keys, bull: new BullLayout(config.QUEUE_PREFIX), workerId, model, maxWaitMs: config.MAX_WAIT_SECONDS * 1000 });
const memory: MemoryGuard = new MemoryGuard({
  ledger,
  redis,
  subscriber: createRedis(redisTarget, "worker", `vdgx-memory-${model}`),
  keys,
  workerId,
  gpuWaiters: () => gpuSlots.waiters(),
  onEvictRequest: async (): Promise<boolean> => (await host.unload("memory needed by another model")) || recycleIfHolding(),
  otherChannels: {
    [gpuSlots.keys.events]: () => gpu.onEvent(),
    // POST /v1/models/:model/load and /unload. Loading waits for memory like a job would.
    [keys.modelControl(model)]: (action) => {
      const done = action === "load" ? host.use({ onMemoryWait: async () => undefined }, async () => true) : host.unload("unload requested");
      // Idle again after a warm-up: neighbours choose eviction victims from the heartbeat, so say it now.
      done.then(() => heartbeat.beat(), (err: Error) => log.error(`${action} requested but failed`, { model, error: err.message }));
    },
  },
});
await memory.start();
const host: ModelHost = new ModelHost(config.MODELS_DIR, model, manifest, sessionOptions(config), config.IDLE_UNLOAD_SECONDS, memory, {
  onLoaded: (ms) => {
    log.info("model loaded", { model, load_ms: Math.round(ms), reserved_bytes: memory.grant?.bytes });
    void heartbeat.beat();
  },
  onUnloaded: (reason, retainedBytes) => {
    log.info("model unloaded", { model, reason, retained_bytes: retainedBytes, reserved_bytes: memory.grant?.bytes ?? 0 });
    void heartbeat.beat();
    // Freed sessions the allocator kept: only a new process gets that memory back to the host.
    if (config.RECYCLE_RETAINED_BYTES > 0 && retainedBytes >= config.RECYCLE_RETAINED_BYTES && !stopping) {
      void stop("recycle", ExitCode.recycle);
    }
  },
});
const heartbeat = new Heartbeat(
  redis,
  keys,
  workerId,
  hostId,
  () => ({
    model, loaded: host.loaded, busy: host.inUse, reservedBytes: memory.grant?.bytes ?? 0, budgetBytes: budget, lastUsedAt: host.lastUsedAt,
    environment: environment.problem,
  }),
  async () => {
    await gpu.renew();
    // A lost lease means the ledger may have handed this memory to someone else: give the model up.
    if (!(await memory.renew())) {
      log.error("memory lease lost; unloading as soon as the model is idle", { model });
      await host.unload("memory lease lost");
    }
  },
);

/** ffmpeg, OUTPUTS_DIR and the output store: while one is broken this worker takes no jobs; it resumes once fixed. */
const environment: EnvironmentMonitor = new EnvironmentMonitor(
  { outputsDir: config.OUTPUTS_DIR, minFreeBytes: config.OUTPUTS_MIN_FREE_BYTES, ffmpegPath: config.FFMPEG_PATH, searchPath: () => process.env.PATH ?? "", store },
  async (problem) => {
    if (problem) {
      log.warn("environment broken: taking no jobs until it is fixed", { model, code: problem.code, reason: problem.message });
      await worker.pause(true);
    } else if (worker.isPaused() || !worker.isRunning()) {
      log.info("environment fixed: taking jobs again", { model });
      if (!stopping) worker.resume();
    }
    void heartbeat.beat();
  },
);
const worker = startWorker(
  generateQueue,
  queueName(model),
  createProcessor({ config, host, gpu, memory, redis, keys, log, shutdown: shutdown.signal, environment, store, inputs }),
  {
    // Runs once the environment check passes (below): a broken host leaves every job queued.
    autorun: false,
    connection: createRedis(redisTarget, "worker", `vdgx-bullmq-${model}`),
    prefix: config.QUEUE_PREFIX,
    concurrency: 1,
    lockDuration: config.LOCK_DURATION_MS,
    stalledInterval: config.STALLED_INTERVAL_MS,
    maxStalledCount: config.MAX_STALLED_COUNT,
  },
);
// Every change of busy state is beaten at once: other workers choose eviction victims from it.
// `attempt` is the run's number as GET /v1/jobs/:id counts it (attempts: runs started). attemptsMade would
// not count a run whose worker died: BullMQ counts those in stalledCounter instead.
worker.on("active", (job) => {
  const recovered = job.stalledCounter > 0 ? { recovered_from_stalled: job.stalledCounter } : {};
  log.child({ job_id: job.id }).info("job started", { attempt: job.attemptsStarted, ...recovered });
  void heartbeat.beat();
});
worker.on("completed", (job) => {
  log.child({ job_id: job.id }).info("job completed", { timings: job.returnvalue.timings });
  void heartbeat.beat();
});
worker.on("failed", (job, err) => {
  const failure = readFailure(err.message);
  const jobLog = log.child({ job_id: job?.id });
  if (failure.code === "cancelled") jobLog.info("job cancelled");
  else jobLog.warn("job failed", { code: failure.code, reason: failure.message, attempt: job?.attemptsStarted });
  void heartbeat.beat();
});
// Stalled-job recovery: the lock of a job whose worker died (SIGKILL, the OOM killer, a crash) expired and
// this worker's stalled check moved it back to the queue (BullMQ's "stalled" event).
worker.on("stalled", (jobId, prev) => {
  log.child({ job_id: jobId }).warn("job's worker died mid-job (its lock expired): queued again", { previous_state: prev });
});
worker.on("error", (err) => log.error("worker error", { error: err.message }));
const problem = await environment.start();
if (!problem) worker.resume();
heartbeat.start();
// Inputs of jobs retention has removed go with them (hourly; the first sweep a minute after start).
const sweep = () => void sweepInputs(inputs, redis, new BullLayout(config.QUEUE_PREFIX)).then(
  (removed) => removed.length > 0 && log.info("removed inputs of removed jobs", { count: removed.length }),
  (err: Error) => log.warn("input sweep failed", { error: err.message }),
);
setTimeout(sweep, 60_000).unref();
setInterval(sweep, INPUT_SWEEP_MS).unref();
// Retention of every model's jobs (a model with no worker left included) and of their files or objects.
const retention = new Retention(redis, config, store);
const sweeper = setInterval(() => {
  retention.sweep().then(
    (swept) => swept.forEach((s) => log.info("removed jobs past retention and their objects", { model: s.model, jobs: s.jobs, objects: s.objects })),
    (err: Error) => log.warn("retention sweep failed; trying again later", { error: err.message }),
  );
}, config.OUTPUT_SWEEP_SECONDS * 1000).unref();
log.info("worker ready", { model, queue: queueName(model), worker_id: workerId, memory_budget_bytes: budget, previews: previewsState(config.PREVIEW_EVERY_STEPS, manifest) });

/**
 * Unloaded, idle, yet still holding memory its model left behind: only a restart gives that back.
 * An unload in flight has not settled its reservation yet: judge what it leaves, not the pre-unload grant.
 */
async function recycleIfHolding(): Promise<boolean> {
  await host.unloadSettled;
  if (host.loaded || host.inUse || !memory.grant) return false;
  void stop("recycle", ExitCode.recycle);
  return true;
}

let stopping = false;
let graceArmed = false;
/** A job still running after the grace period is abandoned to stalled-job recovery, never lost. */
function armGraceTimer(): void {
  if (graceArmed) return;
  graceArmed = true;
  const forced = setTimeout(() => {
    log.warn("grace period over; leaving the active job to stalled recovery");
    shutdown.abort();
    process.exit(1);
  }, config.SHUTDOWN_GRACE_MS);
  forced.unref();
}
/**
 * Stops taking jobs, lets the active one finish and leaves with the reservation released (the OS frees
 * all of the process's memory). A recycle has no deadline: nobody waits for it, and a job it picked up
 * just before finishes here; the next one goes to the restarted process. A signal arriving during a
 * recycle does have someone waiting, so it starts the grace period.
 */
async function stop(reason: string, exitCode: number = 0): Promise<void> {
  if (exitCode !== ExitCode.recycle) armGraceTimer();
  if (stopping) return;
  stopping = true;
  log.info("stopping", { reason, exit_code: exitCode });
  environment.stop();
  clearInterval(sweeper);
  await worker.close();
  await closePreviewEncoder();
  await retention.close();
  await heartbeat.stop();
  await host.unload(reason);
  await memory.release();
  redis.disconnect();
  process.exit(exitCode);
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
onSessionThreadDeath((err) => {
  log.error("the ONNX Runtime session thread died; restarting the worker", { error: err.message });
  void stop("session thread died", ExitCode.recycle);
});
