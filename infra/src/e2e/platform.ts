import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { ExitCode, posterFileOf } from "@videosdgx/shared";
import { ManagedProcess, TestRedis, freePort, makeTempDir, spawnNode, waitFor } from "@videosdgx/shared/testing";
import { generateTinyModel, type TinyModelOptions } from "@videosdgx/workers/tiny";
import { API_MAIN, CLI_MAIN, WEBHOOKS_MAIN, WORKER_MAIN } from "../entry-points.js";

export interface HttpAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** What a completed job leaves in OUTPUTS_DIR: its MP4 and its poster, nothing else (sorted, as outputFiles). */
export const finishedOutputs = (ids: readonly string[]): string[] => ids.flatMap((id) => [`${id}.mp4`, posterFileOf(`${id}.mp4`)]).sort();

export interface PlatformOptions {
  /** Extra environment for the API and workers (e.g. short lock durations for kill tests). */
  env?: Record<string, string>;
  /** Copies of the tiny model under other names, with declared footprints. */
  extraTinyModels?: (string | TinyModelOptions)[];
  /** Started in the platform's dir instead of its own TestRedis (e.g. TestSentinelSet.start); stopped with it. */
  redis?: (dir: string) => Promise<ExternalRedis>;
}

/** A Redis the platform does not run itself: the environment that points its processes at it. */
export interface ExternalRedis {
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

export interface WorkerOptions {
  env?: Record<string, string>;
  /** A command that execs the worker in its place (e.g. `prlimit --as=...`), kept for its restarts. */
  launcher?: string[];
}

/**
 * A whole platform for one test file: its own Redis (AOF) on a free port, its own data dir with the tiny
 * model generated into it, the API and workers as real processes, reached over HTTP like a user would.
 */
export class Platform {
  api!: ManagedProcess;
  webhooks: ManagedProcess | undefined;
  /** The current process of each model's worker (a recycled one is replaced by its restart). */
  readonly workers = new Map<string, ManagedProcess>();
  /** Workers that exited to recycle themselves, in order, as the supervisor would have restarted them. */
  readonly recycled: { model: string; pid: number }[] = [];
  private stopping = false;
  private constructor(
    private readonly store: TestRedis | ExternalRedis,
    readonly dataDir: string,
    readonly env: NodeJS.ProcessEnv,
    readonly base: string,
    private readonly removeDir: () => Promise<void>,
  ) {}

  static async start(opts: PlatformOptions = {}): Promise<Platform> {
    const { dir, remove } = await makeTempDir("vdgx-e2e");
    const redis = opts.redis ? await opts.redis(path.join(dir, "redis")) : await TestRedis.start(path.join(dir, "redis"));
    await generateTinyModel(path.join(dir, "models", "tiny"));
    for (const extra of opts.extraTinyModels ?? []) {
      const options = typeof extra === "string" ? { name: extra } : extra;
      await generateTinyModel(path.join(dir, "models", options.name!), options);
    }
    const port = await freePort();
    const env = {
      ...(redis instanceof TestRedis ? { REDIS_URL: redis.url } : redis.env),
      DATA_DIR: dir,
      HOST: "127.0.0.1",
      PORT: String(port),
      QUEUE_PREFIX: "e2e",
      LOG_LEVEL: "debug",
      ...opts.env,
    };
    const p = new Platform(redis, dir, env, `http://127.0.0.1:${port}`, remove);
    await p.startApi();
    return p;
  }

  /** The platform's own Redis (not there when it was given an ExternalRedis). */
  get redis(): TestRedis {
    if (!(this.store instanceof TestRedis)) throw new Error("this platform runs on an external Redis; use that one");
    return this.store;
  }

  get outputsDir(): string {
    return path.join(this.dataDir, "outputs");
  }

  /**
   * `awaitRedis: false`: returns once it listens, for a test of the API answering while its Redis is away;
   * `env`: settings of this API process only, over the platform's.
   */
  async startApi({ awaitRedis = true, env = {} }: { awaitRedis?: boolean; env?: Record<string, string> } = {}): Promise<void> {
    this.api = spawnNode("api", API_MAIN, { ...this.env, ...env });
    if (awaitRedis) await this.apiReachesRedis();
    else await this.api.waitForOutput(/api listening/);
  }

  /** Ready for tests once the API's Redis connection is up (workers may legitimately be absent). */
  async apiReachesRedis(): Promise<void> {
    await waitFor(`the API to reach Redis\n${this.api.output}`, () =>
      fetch(`${this.base}/readyz`).then(async (r) => ((await r.json()) as { redis: string }).redis === "ok", () => false),
    20000);
  }

  async startWorker(model: string, opts: WorkerOptions = {}): Promise<ManagedProcess> {
    const w = this.spawnWorker(model, opts);
    await w.waitForOutput(/worker ready/);
    return w;
  }

  /** The webhook dispatcher and deliverer. */
  async startWebhooks(env: Record<string, string> = {}): Promise<ManagedProcess> {
    this.webhooks = spawnNode("webhooks", WEBHOOKS_MAIN, { ...this.env, ...env });
    await this.webhooks.waitForOutput(/webhooks ready/);
    return this.webhooks;
  }

  /** Like the supervisor: a worker that exits with the recycle code is started again at once. */
  private spawnWorker(model: string, opts: WorkerOptions): ManagedProcess {
    const w = spawnNode(`worker-${model}`, WORKER_MAIN, { ...this.env, ...opts.env }, ["--model", model], opts.launcher);
    this.workers.set(model, w);
    void w.exited.then(({ code }) => {
      if (code !== ExitCode.recycle || this.stopping || this.workers.get(model) !== w) return;
      this.recycled.push({ model, pid: w.pid });
      this.spawnWorker(model, opts);
    });
    return w;
  }

  /** The worker that replaced `old` after it recycled itself, once it is ready. */
  async restartedWorker(model: string, old: ManagedProcess): Promise<ManagedProcess> {
    const next = await waitFor(`${model}'s worker to be restarted\n${old.output}`, () => {
      const w = this.workers.get(model);
      return w !== old ? w : undefined;
    }, 60000);
    await next.waitForOutput(/worker ready/);
    return next;
  }

  /** Starts a worker for the model unless one of ours is running. */
  async ensureWorker(model: string): Promise<ManagedProcess> {
    const w = this.workers.get(model);
    if (w && w.child.exitCode === null && w.child.signalCode === null) return w;
    return this.startWorker(model);
  }

  /** Runs `npm run keys -- <args>` as a real process against this platform's Redis. */
  async keysCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
    const cli = spawnNode("keys", CLI_MAIN, { ...this.env, ...env }, ["keys", ...args]);
    // "close", not "exit": all of its output has been read by then.
    const code = await new Promise<number | null>((resolve) => cli.child.once("close", resolve));
    return { code, output: cli.output };
  }

  /** Creates an API key with the CLI; the answer holds `key`, `id` and `webhook_secret`. */
  async createKey(scopes: string, name = "e2e"): Promise<{ id: string; key: string; webhook_secret: string; scopes: string[] }> {
    const { code, output } = await this.keysCli(["create", "--scope", scopes, "--name", name, "--json"]);
    if (code !== 0) throw new Error(`keys create exited ${code}: ${output}`);
    return JSON.parse(output) as { id: string; key: string; webhook_secret: string; scopes: string[] };
  }

  async request<T = any>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    const res = await fetch(`${this.base}${url}`, init).catch((err: Error) => {
      // A kept-alive socket the API closed while this test's event loop was busy (a long frame comparison)
      // is still in the pool when the next request takes it. The API closes idle sockets only between
      // requests, so this one was not taken: it is sent again on a new connection.
      if ((err.cause as { code?: string } | undefined)?.code !== "UND_ERR_SOCKET") throw err;
      return fetch(`${this.base}${url}`, init);
    });
    const type = res.headers.get("content-type") ?? "";
    const parsed = type.includes("json") ? await res.json() : type.startsWith("text") || type.includes("html") ? await res.text() : Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  /** Polls the job over HTTP until `done` holds; the error says what the job last looked like. */
  async waitForJob(id: string, done: (job: any) => boolean, timeoutMs = 120000): Promise<any> {
    let last: unknown;
    try {
      return await waitFor(
        `job ${id} to reach the expected state`,
        async () => {
          const r = await this.request("GET", `/v1/jobs/${id}`);
          last = r.body;
          return r.status === 200 && done(r.body) ? r.body : undefined;
        },
        timeoutMs,
        100,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last)}`);
    }
  }

  waitForTerminal(id: string, timeoutMs?: number): Promise<any> {
    return this.waitForJob(id, (j) => ["completed", "failed", "cancelled"].includes(j.status), timeoutMs);
  }

  /**
   * Gives the model's transformer an operator ONNX Runtime does not know: the file's structure stays
   * sound, so the model is listed as installed and takes jobs, but loading it fails.
   */
  async makeUnloadable(model: string): Promise<void> {
    const file = path.join(this.dataDir, "models", model, "transformer/model.onnx");
    const graph = (await readFile(file)).toString("latin1");
    if (!graph.includes("Identity")) throw new Error(`${file} has no Identity operator to rename`);
    await writeFile(file, Buffer.from(graph.replaceAll("Identity", "Identitx"), "latin1"));
  }

  async outputFiles(): Promise<string[]> {
    return (await readdir(this.outputsDir).catch(() => [] as string[])).sort();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.workers.values(), ...(this.webhooks ? [this.webhooks] : [])].map((w) => w.stop()));
    await this.api?.stop();
    await (this.store instanceof TestRedis ? this.store.kill("SIGTERM") : this.store.stop());
    await this.removeDir();
  }
}
