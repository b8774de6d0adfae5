import type ort from "onnxruntime-node";
import type { Manifest, MemoryWait } from "@videosdgx/shared";
import { loadModel, type LoadedModel } from "./loaded-model.js";
import type { MemoryGuard } from "./memory-guard.js";
import { settledAnonymousRss } from "./process-memory.js";

/**
 * Below this, what a process keeps after an unload is its own overhead, not the model's: the ONNX Runtime
 * environment its first load set up (about 10 MB measured) and the JS heap V8 keeps grown after busy work
 * (workers that ran a few jobs kept about 34 MB in all). Like the rest of the process it is covered by
 * MEMORY_RESERVE_BYTES, not by a reservation: otherwise an idle host's ledger would never empty.
 */
const PROCESS_OVERHEAD_BYTES = 64 * 1024 * 1024;

export interface ModelHostEvents {
  onLoaded(loadMs: number): void;
  /** `retainedBytes`: what the process still holds beyond its size before the first load. */
  onUnloaded(reason: string, retainedBytes: number): void;
}

export interface UseHooks {
  /** Called while the load waits for memory (and again whenever the situation changes). */
  onMemoryWait(wait: MemoryWait): Promise<void>;
}

/**
 * Holds one model for this worker process: loaded on the first job under a memory reservation, kept
 * while jobs keep coming, released after `idleUnloadSeconds` without work (0 keeps it forever), when
 * another worker on the host needs the memory, or when the reservation's lease was lost.
 */
export class ModelHost {
  private model: LoadedModel | undefined;
  private loading: Promise<{ model: LoadedModel; ms: number }> | undefined;
  private unloading: Promise<unknown> | undefined;
  /** The process's settled anonymous memory before it first loaded a model: what an empty worker holds. */
  private emptyBytes: number | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private busy = 0;
  lastUsedAt = 0;

  constructor(
    private readonly modelsDir: string,
    readonly name: string,
    private readonly manifest: Manifest,
    private readonly sessionOptions: ort.InferenceSession.SessionOptions,
    private readonly idleUnloadSeconds: number,
    private readonly memory: MemoryGuard,
    private readonly events: ModelHostEvents,
  ) {}

  get loaded(): boolean {
    return this.model !== undefined;
  }

  get inUse(): boolean {
    return this.busy > 0;
  }

  /** Settles once the unload in flight (if any) is over; its failure is reported to its own caller. */
  get unloadSettled(): Promise<void> {
    return (this.unloading ?? Promise.resolve()).then(
      () => undefined,
      () => undefined,
    );
  }

  private async load(hooks: UseHooks): Promise<{ model: LoadedModel; ms: number }> {
    // An unload still measuring what it gave back must settle its reservation before a new one is made.
    await this.unloading;
    await this.memory.acquire(this.name, this.manifest, hooks.onMemoryWait);
    this.emptyBytes ??= await settledAnonymousRss();
    const started = performance.now();
    const rssBefore = process.memoryUsage.rss();
    try {
      const model = await loadModel(this.modelsDir, this.name, this.sessionOptions);
      await this.memory.loaded(this.name, this.manifest, process.memoryUsage.rss() - rssBefore);
      return { model, ms: performance.now() - started };
    } catch (err) {
      await this.memory.release();
      throw err;
    }
  }

  /** Runs `fn` with the model loaded; `loadMs` is set when this call had to load it. */
  async use<T>(hooks: UseHooks, fn: (model: LoadedModel, loadMs: number | undefined) => Promise<T>): Promise<T> {
    this.busy++;
    clearTimeout(this.idleTimer);
    try {
      let loadMs: number | undefined;
      if (!this.model) {
        this.loading ??= this.load(hooks).finally(() => {
          this.loading = undefined;
        });
        const { model, ms } = await this.loading;
        this.model = model;
        loadMs = ms;
        this.events.onLoaded(ms);
      }
      return await fn(this.model, loadMs);
    } finally {
      this.busy--;
      this.lastUsedAt = Date.now();
      this.scheduleIdleUnload();
    }
  }

  private scheduleIdleUnload(): void {
    if (this.busy > 0 || this.idleUnloadSeconds === 0 || !this.model) return;
    this.idleTimer = setTimeout(() => void this.unload("idle"), this.idleUnloadSeconds * 1000);
    this.idleTimer.unref();
  }

  /**
   * Unloads when idle and gives back what the OS really got back: the reservation shrinks to what the
   * process still holds. False when a job is running (never evicted mid-job).
   */
  async unload(reason: string): Promise<boolean> {
    clearTimeout(this.idleTimer);
    const model = this.model;
    if (!model || this.busy > 0) return false;
    this.model = undefined;
    const done = this.releaseAndMeasure(model, reason);
    this.unloading = done;
    await done.finally(() => {
      if (this.unloading === done) this.unloading = undefined;
    });
    return true;
  }

  private async releaseAndMeasure(model: LoadedModel, reason: string): Promise<void> {
    await model.release();
    const held = (await settledAnonymousRss()) - (this.emptyBytes ?? 0);
    const retained = held >= PROCESS_OVERHEAD_BYTES ? held : 0;
    await this.memory.unloaded(retained);
    this.events.onUnloaded(reason, retained);
  }
}
