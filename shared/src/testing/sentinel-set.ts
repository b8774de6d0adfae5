import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { Redis } from "ioredis";
import { startRedisServer, type RedisServer } from "../redis-server.js";
import { freePort, waitFor } from "./wait.js";

const HOST = "127.0.0.1";

export interface SentinelSetOptions {
  /** Sentinel's down-after-milliseconds: how long a silent primary takes to be judged down. */
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  /** The data nodes' requirepass (and masterauth); the sentinels are told it with `auth-pass`. */
  password?: string;
  /** The sentinels' own requirepass. */
  sentinelPassword?: string;
}

interface DataNode {
  port: number;
  dataDir: string;
  server: RedisServer | undefined;
}

/** One question to one server, on a connection that gives up at once (a killed node must not hang a test). */
async function ask<T>(port: number, fn: (r: Redis) => Promise<T>, password?: string): Promise<T> {
  const r = new Redis({ host: HOST, port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  r.on("error", () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

const infoField = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim();

/**
 * A primary, a replica and three sentinels (quorum 2) as real processes on free ports, for one test
 * file or bench: the set-up the README describes, shrunk onto one machine.
 */
export class TestSentinelSet {
  static readonly NAME = "vdgx";
  private readonly sentinels: { port: number; process: ChildProcess }[] = [];
  private constructor(
    private readonly dir: string,
    private readonly nodes: DataNode[],
    private readonly opts: Required<Omit<SentinelSetOptions, "password" | "sentinelPassword">> & Pick<SentinelSetOptions, "password" | "sentinelPassword">,
  ) {}

  static async start(dir: string, opts: SentinelSetOptions = {}): Promise<TestSentinelSet> {
    const nodes: DataNode[] = [];
    for (const name of ["a", "b"]) nodes.push({ port: await freePort(), dataDir: path.join(dir, name), server: undefined });
    const set = new TestSentinelSet(dir, nodes, { ...opts, downAfterMs: opts.downAfterMs ?? 1000, failoverTimeoutMs: opts.failoverTimeoutMs ?? 3000 });
    try {
      await set.startNode(nodes[0]!);
      await set.startNode(nodes[1]!, nodes[0]!.port);
      await set.waitForSync(nodes[1]!.port);
      for (let i = 0; i < 3; i++) await set.startSentinel(i, nodes[0]!.port);
      await set.waitUntilWatched();
    } catch (err) {
      await set.stop();
      throw err;
    }
    return set;
  }

  /** What a platform process needs to connect through these sentinels. */
  get env(): Record<string, string> {
    return {
      REDIS_SENTINELS: this.sentinels.map((s) => `${HOST}:${s.port}`).join(","),
      REDIS_SENTINEL_NAME: TestSentinelSet.NAME,
      ...(this.opts.password ? { REDIS_PASSWORD: this.opts.password } : {}),
      ...(this.opts.sentinelPassword ? { REDIS_SENTINEL_PASSWORD: this.opts.sentinelPassword } : {}),
    };
  }

  get downAfterMs(): number {
    return this.opts.downAfterMs;
  }

  private async startNode(node: DataNode, replicaOf?: number): Promise<void> {
    node.server = await startRedisServer({
      port: node.port,
      dataDir: node.dataDir,
      appendfsync: "always",
      ...(this.opts.password ? { password: this.opts.password } : {}),
      ...(replicaOf === undefined ? {} : { replicaOf: { host: HOST, port: replicaOf } }),
    });
  }

  private async startSentinel(i: number, primaryPort: number): Promise<void> {
    const port = await freePort();
    const dir = path.join(this.dir, `sentinel-${i}`);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, "sentinel.conf");
    const n = TestSentinelSet.NAME;
    // Sentinel rewrites its file with what it learns (replicas, other sentinels, the current epoch).
    await writeFile(
      file,
      [
        `port ${port}`, `bind ${HOST}`, "protected-mode no", `dir ${dir}`,
        `sentinel monitor ${n} ${HOST} ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${n} ${this.opts.downAfterMs}`,
        `sentinel failover-timeout ${n} ${this.opts.failoverTimeoutMs}`,
        `sentinel parallel-syncs ${n} 1`,
        ...(this.opts.password ? [`sentinel auth-pass ${n} ${this.opts.password}`] : []),
        // Sentinels talk to each other too: the same password both ways.
        ...(this.opts.sentinelPassword ? [`requirepass ${this.opts.sentinelPassword}`, `sentinel sentinel-pass ${this.opts.sentinelPassword}`] : []),
        "",
      ].join("\n"),
    );
    const child = spawn("redis-server", [file, "--sentinel"], { stdio: "ignore" });
    this.sentinels.push({ port, process: child });
    await waitFor(`sentinel ${i} on port ${port} to answer`, () => ask(port, (r) => r.ping(), this.opts.sentinelPassword).then(() => true, () => false), 10000);
  }

  /** Every sentinel knows the replica and the two other sentinels: a failover can be agreed on. */
  private async waitUntilWatched(): Promise<void> {
    for (const s of this.sentinels) {
      await waitFor(`sentinel ${s.port} to see the replica and the other sentinels`, () =>
        ask(s.port, async (r) => {
          const flat = (await r.call("SENTINEL", "MASTER", TestSentinelSet.NAME)) as string[];
          const m = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
          return Number(m["num-slaves"]) >= 1 && Number(m["num-other-sentinels"]) === 2;
        }, this.opts.sentinelPassword).catch(() => false), 20000, 200);
    }
  }

  /** The primary's port as the sentinels tell it (each asked in turn until one answers). */
  async primaryPort(): Promise<number> {
    for (const s of this.sentinels) {
      const addr = await ask(s.port, (r) => r.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", TestSentinelSet.NAME) as Promise<string[]>, this.opts.sentinelPassword).catch(() => undefined);
      if (addr) return Number(addr[1]);
    }
    throw new Error("no sentinel answered");
  }

  private node(port: number): DataNode {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no data node on port ${port}`);
    return node;
  }

  /** SIGKILLs the current primary; resolves with its port once it is gone. */
  async killPrimary(): Promise<number> {
    const port = await this.primaryPort();
    const node = this.node(port);
    node.server!.process.kill("SIGKILL");
    await node.server!.exited;
    node.server = undefined;
    return port;
  }

  /**
   * Cuts the replica off while the primary goes on accepting writes, the window in which a failover
   * loses what was written: once the replica holds every write made so far (WAIT), it is SIGSTOPped (it
   * cannot reconnect) and the primary closes its replication link (without that, what the primary sends
   * meanwhile would wait in the stopped process's socket buffer and be applied when it resumes).
   * Resolves with the replica's port, for `resume`.
   */
  async isolateReplica(): Promise<number> {
    const primary = await this.primaryPort();
    const replica = this.nodes.find((n) => n.port !== primary && n.server);
    if (!replica) throw new Error("no running replica to isolate");
    const acked = await ask(primary, (r) => r.call("WAIT", "1", "5000") as Promise<number>, this.opts.password);
    if (acked < 1) throw new Error(`the replica on ${replica.port} did not acknowledge the primary's writes`);
    replica.server!.process.kill("SIGSTOP");
    await ask(primary, (r) => r.call("CLIENT", "KILL", "TYPE", "replica"), this.opts.password);
    return replica.port;
  }

  /** Lets a node stopped by `isolateReplica` run again. */
  resume(port: number): void {
    this.node(port).server!.process.kill("SIGCONT");
  }

  /** A graceful failover (`SENTINEL FAILOVER`): the primary is demoted to replica while its clients stay connected. */
  async requestFailover(): Promise<number> {
    const old = await this.primaryPort();
    await ask(this.sentinels[0]!.port, (r) => r.call("SENTINEL", "FAILOVER", TestSentinelSet.NAME), this.opts.sentinelPassword);
    return old;
  }

  /** Resolves with the new primary's port once the sentinels name another node and it answers as master. */
  async waitForFailover(oldPort: number, timeoutMs = 30000): Promise<number> {
    return waitFor(`the sentinels to promote a replica after the primary on ${oldPort} went away`, async () => {
      const port = await this.primaryPort();
      if (port === oldPort) return undefined;
      const role = await ask(port, (r) => r.info("replication"), this.opts.password).then((i) => infoField(i, "role"), () => undefined);
      return role === "master" ? port : undefined;
    }, timeoutMs, 100);
  }

  /** Brings a killed node back as a replica of the current primary (as Sentinel would reconfigure it) and waits for its sync. */
  async restartAsReplica(port: number): Promise<void> {
    await this.startNode(this.node(port), await this.primaryPort());
    await this.waitForSync(port);
  }

  /** A replica holds nothing until its first full sync is done (Redis delays a diskless one by 5 s). */
  private waitForSync(port: number): Promise<boolean> {
    return waitFor(`the replica on ${port} to finish its sync`, () =>
      ask(port, (r) => r.info("replication"), this.opts.password).then((i) => infoField(i, "master_link_status") === "up", () => false), 30000, 100);
  }

  async stop(): Promise<void> {
    for (const s of this.sentinels) s.process.kill("SIGKILL");
    for (const n of this.nodes) {
      n.server?.process.kill("SIGTERM");
      n.server?.process.kill("SIGCONT"); // a node left isolated would not act on its SIGTERM until it runs again
      await n.server?.exited;
    }
  }
}
