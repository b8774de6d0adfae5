import { spawn, type ChildProcess } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { Redis } from "ioredis";

export interface RedisServerOptions {
  port: number;
  dataDir: string;
  /** `always` makes every acknowledged submission survive a kill -9 of Redis; `everysec` may lose the last second. */
  appendfsync: "always" | "everysec";
  bind?: string;
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
  ];
}

export interface RedisServer {
  readonly url: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
}

/** Starts `redis-server` as a child and resolves once it answers PING (AOF replay included). */
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
  const url = `redis://${o.bind ?? "127.0.0.1"}:${o.port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${output}`);
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined);
    const ok = await Promise.race([
      probe.connect().then(() => probe.ping()).then((r) => r === "PONG", () => false),
      spawnError,
    ]);
    probe.disconnect();
    if (ok) return { url, process: child, exited };
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`redis-server did not answer on port ${o.port} within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
