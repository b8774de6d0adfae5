import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startRedisServer, type RedisServer } from "../redis-server.js";
import { freePort, waitFor } from "./wait.js";

/** A child process whose output is kept (the last 64 KB) for assertions and failure messages. */
export class ManagedProcess {
  output = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(readonly name: string, readonly child: ChildProcess) {
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-65536);
      if (process.env.TEST_VERBOSE) process.stderr.write(`[${name}] ${b.toString()}`);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  }
  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid`);
    return this.child.pid;
  }
  waitForOutput(re: RegExp, timeoutMs = 30000): Promise<RegExpMatchArray> {
    return waitFor(`${this.name} to print ${re}\n--- output ---\n${this.output}`, () => re.exec(this.output) ?? undefined, timeoutMs);
  }
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 15000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * The environment of a process a test starts: built from scratch, never from the caller's shell (a DATA_DIR
 * or OUTPUTS_DIR exported there must not send a test's files into the user's folders). Only what finding
 * programs and a home directory need is kept, plus what the test sets.
 */
export function testEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const name of ["PATH", "HOME", "TMPDIR"]) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  return { ...base, ...env };
}

/** `launcher`: a command that sets something up and execs Node in its place, e.g. `["prlimit", "--as=..."]`. */
export function spawnNode(name: string, script: string, env: NodeJS.ProcessEnv, args: string[] = [], launcher: string[] = []): ManagedProcess {
  const [command, ...prefix] = [...launcher, process.execPath];
  const child = spawn(command!, [...prefix, script, ...args], { env: testEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  return new ManagedProcess(name, child);
}

export async function makeTempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A private Redis for one test file: its own port and data dir, restartable on the same AOF. */
export class TestRedis {
  private server!: RedisServer;
  private constructor(readonly port: number, readonly dataDir: string) {}
  static async start(dataDir: string): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), dataDir);
    await r.restart();
    return r;
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  get pid(): number | undefined {
    return this.server.process.pid;
  }
  async restart(): Promise<void> {
    this.server = await startRedisServer({ port: this.port, dataDir: this.dataDir, appendfsync: "always" });
  }
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.server.process.kill(signal);
    await this.server.exited;
  }
}

/** The pids of this process's children whose command name is `name` (Linux /proc), in pid order. */
export async function childProcesses(name: string): Promise<string[]> {
  const pids: string[] = [];
  for (const tid of await readdir(`/proc/${process.pid}/task`)) {
    const children = await readFile(`/proc/${process.pid}/task/${tid}/children`, "utf8").catch(() => "");
    for (const c of children.split(" ").filter(Boolean)) {
      if ((await readFile(`/proc/${c}/comm`, "utf8").catch(() => "")).trim() === name) pids.push(c);
    }
  }
  return pids.sort();
}
