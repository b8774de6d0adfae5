import type { Redis } from "ioredis";
import {
  inspectModel,
  listModelNames,
  ModelUnavailableError,
  NotFoundError,
  redisKeys,
  type Config,
  type InstallState,
  type Manifest,
} from "@videosdgx/shared";

export interface WorkerInfo {
  id: string;
  model: string;
  host: string;
  pid: number;
  loaded: boolean;
  last_used_at: string | null;
}

export interface ModelView {
  name: string;
  display_name: string;
  license: string;
  installed: boolean;
  reason?: string;
  loaded: boolean;
  workers: WorkerInfo[];
  constraints?: Manifest["constraints"];
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
  private readonly inspections = new Map<string, { at: number; state: Promise<InstallState> }>();

  constructor(private readonly config: Config, private readonly redis: Redis) {
    this.keys = redisKeys(config.QUEUE_PREFIX);
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

  async inspectKnown(name: string): Promise<InstallState> {
    const state = await inspectModel(this.config.MODELS_DIR, name);
    if (!state.installed && !state.manifest && !(await this.names()).includes(name)) {
      throw new NotFoundError(`unknown model ${name}; known models: ${(await this.names()).join(", ")}`);
    }
    return state;
  }

  async liveWorkers(): Promise<WorkerInfo[]> {
    const ids = await this.redis.zrangebyscore(this.keys.workers, Date.now(), "+inf");
    const rows = await Promise.all(ids.map((id) => this.redis.hgetall(this.keys.worker(id)).then((h) => ({ id, h }))));
    return rows
      .filter(({ h }) => h.model !== undefined)
      .map(({ id, h }) => ({
        id,
        model: h.model!,
        host: h.host ?? "",
        pid: Number(h.pid),
        loaded: h.loaded === "1",
        last_used_at: Number(h.last_used_at) > 0 ? new Date(Number(h.last_used_at)).toISOString() : null,
      }));
  }

  async view(name: string, workers?: WorkerInfo[]): Promise<ModelView> {
    const state = await this.inspectKnown(name);
    const mine = (workers ?? (await this.liveWorkers())).filter((w) => w.model === name);
    const manifest = state.manifest;
    return {
      name,
      display_name: manifest?.display_name ?? name,
      license: manifest?.license ?? "unknown",
      installed: state.installed,
      ...(state.installed ? {} : { reason: state.reason }),
      loaded: mine.some((w) => w.loaded),
      workers: mine,
      constraints: manifest?.constraints,
      capabilities: manifest?.capabilities,
      memory: manifest?.memory,
    };
  }

  async list(): Promise<ModelView[]> {
    const workers = await this.liveWorkers();
    return Promise.all((await this.names()).map((n) => this.view(n, workers)));
  }
}
