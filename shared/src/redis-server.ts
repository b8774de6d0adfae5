import { spawn, type ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { Redis } from "ioredis";

export interface RedisServerOptions {
  port: number;
  dataDir: string;
  /** `always` makes every acknowledged submission survive a kill -9 of Redis; `everysec` may lose the last second. */
  appendfsync: "always" | "everysec";
  bind?: string;
  /** Starts as a replica of this primary, e.g. in a set watched by Sentinel. */
  replicaOf?: { host: string; port: number };
  /** requirepass, and masterauth for a replica (or a primary demoted to one): one password for the set. */
  password?: string;
}

/** Arguments for the platform's own Redis: AOF on, no eviction (BullMQ loses jobs under any other policy). */
export function redisServerArgs(o: RedisServerOptions): string[] {
  return [
    "--port", String(o.port),
    "--bind", o.bind ?? "127.0.0.1",
    "--dir", o.dataDir,
    "--appendonly", "yes",
    "--appendfsync", o.appendfsync,
    "--maxmemory-policy", "noeviction",
    "--save", "",
    "--protected-mode", "yes",
    ...(o.replicaOf ? ["--replicaof", o.replicaOf.host, String(o.replicaOf.port)] : []),
    ...(o.password ? ["--requirepass", o.password, "--masterauth", o.password] : []),
  ];
}

export interface RedisServer {
  readonly url: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Its last lines of output (Redis logs to stdout), to show why it stopped. */
  lastOutput(): string;
}

/** Raised when the port belongs to another process: retrying or restarting cannot help. */
export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} is already in use by another process; stop it or choose another port`);
  }
}

const lastLines = (text: string, n = 8) => text.trimEnd().split("\n").slice(-n).join("\n");

/** The `process_id` of the Redis answering at `url` once it has loaded its data, or undefined until then. */
async function answeringPid(url: string): Promise<number | undefined> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    // INFO answers during the AOF replay too, where PING would not: wait for loading:0.
    const info = await probe.info();
    if (!/^loading:0/m.test(info)) return undefined;
    return Number(/^process_id:(\d+)/m.exec(info)?.[1]);
  } catch {
    return undefined;
  } finally {
    probe.disconnect();
  }
}

/**
 * Starts `redis-server` as a child and resolves once it answers (AOF replay included). Only an answer
 * from this child counts: another Redis already on the port makes it fail with PortInUseError.
 */
export async function startRedisServer(o: RedisServerOptions, timeoutMs = 20000): Promise<RedisServer> {
  await mkdir(o.dataDir, { recursive: true });
  // Own process group: a Ctrl-C in the terminal must not stop Redis before the workers have finished.
  const child = spawn("redis-server", redisServerArgs(o), { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
  const url = `redis://${o.password ? `:${encodeURIComponent(o.password)}@` : ""}${o.bind ?? "127.0.0.1"}:${o.port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      if (/Address already in use/i.test(output)) throw new PortInUseError(o.port);
      throw new Error(`redis-server exited with ${child.exitCode}:\n${lastLines(output)}`);
    }
    const pid = await Promise.race([answeringPid(url), spawnError]);
    if (pid !== undefined && pid === child.pid) return { url, process: child, exited, lastOutput: () => lastLines(output) };
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not answer on port ${o.port} within ${timeoutMs} ms:\n${lastLines(output)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
