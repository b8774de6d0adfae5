import { readFile, readlink, realpath, writeFile } from "node:fs/promises";
import path from "node:path";
import { Redis } from "ioredis";
import { startRedisServer, type Logger, type RedisServer, type RedisServerOptions } from "@videosdgx/shared";

/** Which redis-server the launcher last started on this data dir, so the next launcher can find it. */
const RECORD_FILE = "own-redis.json";
interface OwnRedisRecord {
  pid: number;
  port: number;
}

const MAX_BACKOFF_MS = 30000;
const FIRST_BACKOFF_MS = 1000;

/** True while the process exists and is not a zombie (an exited child its parent has not reaped yet). */
async function processAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // "pid (comm) S ...": the state follows the last ')' (comm may itself hold parentheses).
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "" && state !== "Z";
}

/** True only for a redis-server process whose working directory (Redis chdirs to its `dir`) is ours. */
async function isRedisOfDir(pid: number, dir: string): Promise<boolean> {
  const comm = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => "");
  return comm.startsWith("redis-server") && cwd === dir;
}

/**
 * A redis-server left running by a launcher that was killed (it runs in its own session, so it outlives
 * the launcher's process group) is shut down with SHUTDOWN, which flushes its AOF, before a fresh one
 * starts on the same files. Only a Redis proven to be ours is touched: the recorded pid must be a
 * redis-server working in our dir, and the server on the recorded port must report that pid and dir.
 * The caller holds the data dir's lock, so no live launcher owns it.
 */
export async function shutDownLeftoverRedis(dataDir: string, log: Logger): Promise<void> {
  const dir = await realpath(dataDir);
  const record = await readFile(path.join(dir, RECORD_FILE), "utf8").then((t) => JSON.parse(t) as OwnRedisRecord, () => undefined);
  if (!record || !(await processAlive(record.pid)) || !(await isRedisOfDir(record.pid, dir))) return;
  log.warn("found the redis-server of a previous npm start still running on this data dir; shutting it down cleanly", { ...record });
  const client = new Redis({ host: "127.0.0.1", port: record.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const pid = Number(/^process_id:(\d+)/m.exec(await client.info("server"))?.[1]);
    const [, reportedDir] = (await client.config("GET", "dir")) as string[];
    if (pid !== record.pid || reportedDir !== dir) throw new Error(`the Redis on port ${record.port} is pid ${pid} in ${reportedDir}`);
    await client.shutdown().catch(() => undefined); // the server closes the connection as it exits
  } catch (err) {
    // Not reachable where recorded: SIGTERM makes Redis do the same clean shutdown as SHUTDOWN.
    log.warn("cannot reach it on its recorded port; sending it SIGTERM", { pid: record.pid, error: (err as Error).message });
    process.kill(record.pid, "SIGTERM");
  } finally {
    client.disconnect();
  }
  for (const deadline = Date.now() + 30000; await processAlive(record.pid); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > deadline) throw new Error(`the previous redis-server (pid ${record.pid}) did not exit within 30 s of SHUTDOWN`);
  }
  log.info("previous redis-server stopped", { pid: record.pid });
}

export interface OwnRedisOptions {
  server: RedisServerOptions;
  /** Restarts allowed within `restartWindowMs` before the launcher gives up. */
  maxRestarts: number;
  restartWindowMs: number;
  /** Redis could not be kept running: the launcher stops the stack and exits non-zero. */
  onGiveUp: () => void;
}

/**
 * The launcher's own redis-server, kept running: when it dies it is restarted on the same port and AOF
 * with exponential backoff, its last output logged; more than `maxRestarts` within the window is fatal.
 * Meanwhile the API answers 503 and the workers' connections retry until it is back.
 */
export class OwnRedis {
  private server!: RedisServer;
  private restarts: number[] = [];
  private stopping = false;
  private backoffMs = FIRST_BACKOFF_MS;

  constructor(private readonly o: OwnRedisOptions, private readonly log: Logger) {}

  get url(): string {
    return this.server.url;
  }

  /** The first start: its errors (port in use, redis-server missing) are the caller's to report. */
  async start(): Promise<void> {
    await this.launch();
  }

  private async launch(): Promise<void> {
    this.server = await startRedisServer(this.o.server);
    if (this.stopping) this.server.process.kill("SIGTERM"); // stopped while it was starting
    const record: OwnRedisRecord = { pid: this.server.process.pid!, port: this.o.server.port };
    await writeFile(path.join(this.o.server.dataDir, RECORD_FILE), JSON.stringify(record));
    const server = this.server;
    void server.exited.then((code) => {
      if (!this.stopping) this.restartLater(`redis-server exited with ${code ?? "a signal"}`, server.lastOutput());
    });
  }

  private restartLater(reason: string, output: string): void {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < this.o.restartWindowMs);
    if (this.restarts.length === 0) this.backoffMs = FIRST_BACKOFF_MS; // it had been up for a whole window
    if (this.restarts.length >= this.o.maxRestarts) {
      this.log.error("redis-server keeps stopping; giving up", {
        reason, output, restarts: this.restarts.length, window_seconds: this.o.restartWindowMs / 1000,
      });
      this.o.onGiveUp();
      return;
    }
    this.restarts.push(now);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.log.error("redis-server stopped; restarting it (the API answers 503 until it is back)", { reason, output, restart_in_ms: delay });
    setTimeout(() => {
      if (this.stopping) return;
      this.launch().then(
        () => this.log.info("redis-server restarted", { url: this.server.url }),
        (err: Error) => this.restartLater(err.message, ""),
      );
    }, delay);
  }

  /** SIGTERM: Redis flushes its AOF and exits. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.server.process.exitCode !== null || this.server.process.signalCode !== null) return;
    this.server.process.kill("SIGTERM");
    await this.server.exited;
  }
}
