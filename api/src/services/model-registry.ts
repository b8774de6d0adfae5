import type { Redis } from "ioredis";
import { readHosts, type HostView } from "./host-views.js";
import {
  inspectModel,
  listModelNames,
  modelEnvironmentProblem,
  queueName,
  readLiveWorkers,
  RecentLiveWorkers,
  ValidationError,
  ModelUnavailableError,
  NotFoundError,
  BullLayout,
  redisKeys,
  type Config,
  type EnvironmentProblem,
  type InstallState,
  type Manifest,
  type WorkerInfo,
} from "@videosdgx/shared";

export interface ModelView {
  name: string;
  display_name: string;
  license: string;
  installed: boolean;
  reason?: string;
  loaded: boolean;
  /** Jobs waiting in the model's queue. */
  queue_depth: number;
  /** Bytes a load of this model really took, per host where it was measured. */
  measured_bytes: Record<string, number>;
  workers: WorkerInfo[];
  /** Set when every live worker of the model takes no jobs because of its host (jobs wait meanwhile). */
  environment?: EnvironmentProblem;
  constraints?: Manifest["constraints"];
  /** The manifest's sampling.steps_multiple: the steps a job may ask for are multiples of it. */
  steps_multiple?: number;
  capabilities?: Manifest["capabilities"];
  memory?: Manifest["memory"];
}

/**
 * How long a submission may rely on an earlier inspection of a model folder. Inspection reads and parses
 * every JSON file of the model (a real tokenizer.json is megabytes), far too much for every request; a
 * folder broken within this window fails its job with the reason instead of being refused.
 */
const INSPECTION_TTL_MS = 2000;

/** Which models can take jobs (from MODELS_DIR) and which are loaded (from workers' heartbeats). */
export class ModelRegistry {
  private readonly keys;
  private readonly bull;
  private readonly inspections = new Map<string, { at: number; state: Promise<InstallState> }>();
  private readonly liveWorkersSeen;

  constructor(private readonly config: Config, private readonly redis: Redis) {
    this.keys = redisKeys(config.QUEUE_PREFIX);
    this.bull = new BullLayout(config.QUEUE_PREFIX);
    this.liveWorkersSeen = new RecentLiveWorkers(redis, this.keys);
  }

  private inspectRecent(name: string): Promise<InstallState> {
    const hit = this.inspections.get(name);
    if (hit && Date.now() - hit.at < INSPECTION_TTL_MS) return hit.state;
    const state = inspectModel(this.config.MODELS_DIR, name);
    this.inspections.set(name, { at: Date.now(), state });
    // Names that are neither known nor a folder are not kept: the cache stays as small as MODELS_DIR.
    void state.then((s) => !s.installed && !s.manifest && this.inspections.delete(name), () => this.inspections.delete(name));
    return state;
  }

  names(): Promise<string[]> {
    return listModelNames(this.config.MODELS_DIR);
  }

  /** The manifest of a model that can take jobs now; otherwise a 404 or a 503 that says why. */
  async requireInstalled(name: string): Promise<Manifest> {
    const state = await this.inspectRecent(name);
    if (!state.installed && !state.manifest) await this.inspectKnown(name);
    if (!state.installed) throw new ModelUnavailableError(`model ${name} is not installed: ${state.reason}`, { model: name, reason: state.reason });
    return state.manifest;
  }

  /**
   * Refuses a model whose load peak exceeds the memory budget of every host that has a worker for it:
   * such a job could only wait forever. Without live workers the job waits for one, as any job does.
   */
  async requireFitsMemory(name: string, manifest: Manifest): Promise<void> {
    const budgets = (await this.liveWorkersSeen.get()).filter((w) => w.model === name).map((w) => w.budget_bytes);
    if (budgets.length === 0) return;
    const needed = manifest.memory.resident_bytes * manifest.memory.load_peak_factor;
    const largest = Math.max(...budgets);
    if (needed > largest) {
      const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
      throw new ValidationError(
        `model ${name} needs ${gb(needed)} to load; the largest memory budget of its workers is ${gb(largest)}`,
        { model: name, needed_bytes: needed, budget_bytes: largest },
        "exceeds_memory_budget",
      );
    }
  }

  /** Asks every worker of the model to load or unload it; how many workers heard the request. */
  async control(name: string, action: "load" | "unload"): Promise<number> {
    await this.requireInstalled(name);
    return this.redis.publish(this.keys.modelControl(name), action);
  }

  async inspectKnown(name: string): Promise<InstallState> {
    const state = await inspectModel(this.config.MODELS_DIR, name);
    if (!state.installed && !state.manifest && !(await this.names()).includes(name)) {
      throw new NotFoundError(`unknown model ${name}; known models: ${(await this.names()).join(", ")}`);
    }
    return state;
  }

  liveWorkers(): Promise<WorkerInfo[]> {
    return readLiveWorkers(this.redis, this.keys);
  }

  /** The hosts with live workers, each with its own ledger (GET /v1/hosts, metrics, the studio's host view). */
  async hosts(): Promise<HostView[]> {
    return readHosts(this.redis, this.keys, await this.liveWorkers());
  }

  async view(name: string, workers?: WorkerInfo[]): Promise<ModelView> {
    const state = await this.inspectKnown(name);
    const mine = (workers ?? (await this.liveWorkers())).filter((w) => w.model === name);
    const manifest = state.manifest;
    const environment = modelEnvironmentProblem(mine, name);
    const hosts = [...new Set(mine.map((w) => w.host))];
    const [queueDepth, measured] = await Promise.all([
      this.bull.waitingCount(this.redis, queueName(name), this.keys.cancel("")),
      Promise.all(hosts.map(async (h) => [h, Number(await this.redis.hget(this.keys.memory(h).measured, name))] as const)),
    ]);
    return {
      name,
      display_name: manifest?.display_name ?? name,
      license: manifest?.license ?? "unknown",
      installed: state.installed,
      ...(state.installed ? {} : { reason: state.reason }),
      loaded: mine.some((w) => w.loaded),
      queue_depth: queueDepth,
      measured_bytes: Object.fromEntries(measured.filter(([, b]) => b > 0)),
      workers: mine,
      ...(environment ? { environment } : {}),
      constraints: manifest?.constraints,
      ...(manifest?.sampling?.steps_multiple ? { steps_multiple: manifest.sampling.steps_multiple } : {}),
      capabilities: manifest?.capabilities,
      memory: manifest?.memory,
    };
  }

  async list(): Promise<ModelView[]> {
    const workers = await this.liveWorkers();
    return Promise.all((await this.names()).map((n) => this.view(n, workers)));
  }
}
