import type ort from "onnxruntime-node";
import { loadModel, type LoadedModel } from "./loaded-model.js";

export interface ModelHostEvents {
  onLoaded(loadMs: number): void;
  onUnloaded(): void;
}

/**
 * Holds one model for this worker process: loaded on the first job, kept while jobs keep coming,
 * released after `idleUnloadSeconds` without work (0 keeps it forever).
 */
export class ModelHost {
  private model: LoadedModel | undefined;
  private loading: Promise<LoadedModel> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private busy = 0;
  lastUsedAt = 0;

  constructor(
    private readonly modelsDir: string,
    readonly name: string,
    private readonly sessionOptions: ort.InferenceSession.SessionOptions,
    private readonly idleUnloadSeconds: number,
    private readonly events: ModelHostEvents,
  ) {}

  get loaded(): boolean {
    return this.model !== undefined;
  }

  /** Runs `fn` with the model loaded; `loadMs` is set when this call had to load it. */
  async use<T>(fn: (model: LoadedModel, loadMs: number | undefined) => Promise<T>): Promise<T> {
    this.busy++;
    clearTimeout(this.idleTimer);
    try {
      let loadMs: number | undefined;
      if (!this.model) {
        const started = performance.now();
        this.loading ??= loadModel(this.modelsDir, this.name, this.sessionOptions).finally(() => {
          this.loading = undefined;
        });
        this.model = await this.loading;
        loadMs = performance.now() - started;
        this.events.onLoaded(loadMs);
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
    this.idleTimer = setTimeout(() => void this.unload(), this.idleUnloadSeconds * 1000);
    this.idleTimer.unref();
  }

  async unload(): Promise<void> {
    clearTimeout(this.idleTimer);
    const model = this.model;
    if (!model || this.busy > 0) return;
    this.model = undefined;
    await model.release();
    this.events.onUnloaded();
  }
}
