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

/** Which models can take jobs (from MODELS_DIR) and which are loaded (from workers' heartbeats). */
export class ModelRegistry {
  private readonly keys;
  constructor(private readonly config: Config, private readonly redis: Redis) {
    this.keys = redisKeys(config.QUEUE_PREFIX);
  }

  names(): Promise<string[]> {
    return listModelNames(this.config.MODELS_DIR);
  }

  /** The manifest of a model that can take jobs now; otherwise a 404 or a 503 that says why. */
  async requireInstalled(name: string): Promise<Manifest> {
    const state = await this.inspectKnown(name);
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
