import { connect, type Socket } from "node:net";

interface Answer {
  status: number;
  body: Buffer;
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** One keep-alive connection with one request in flight; answers must carry a Content-Length. */
class LeanConnection {
  private pending: { resolve: (a: Answer) => void; reject: (e: Error) => void } | undefined;
  private buffered: Buffer = Buffer.alloc(0);

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.received(chunk));
    socket.on("error", (err) => this.fail(err));
    socket.on("close", () => this.fail(new Error("the server closed the connection")));
  }

  static open(port: number, host: string): Promise<LeanConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => resolve(new LeanConnection(socket)));
      socket.once("error", reject);
    });
  }

  send(request: Buffer): Promise<Answer> {
    if (this.pending) return Promise.reject(new Error("a request is already in flight on this connection"));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private received(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headEnd = this.buffered.indexOf(HEAD_END);
    if (headEnd < 0) return;
    const head = this.buffered.toString("latin1", 0, headEnd);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) return this.fail(new Error(`an answer without Content-Length: ${head.split("\r\n")[0]}`));
    const end = headEnd + HEAD_END.length + Number(length[1]);
    if (this.buffered.length < end) return;
    const answer = { status: Number(head.slice(9, 12)), body: this.buffered.subarray(headEnd + HEAD_END.length, end) };
    this.buffered = this.buffered.subarray(end);
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(answer);
  }

  private fail(err: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(err);
  }
}

/**
 * The load generator of the throughput benches: keep-alive HTTP/1.1 over plain sockets, requests built
 * once as bytes, as wrk and autocannon do. node:http's client spends more CPU per request than a small
 * server does to answer it; on a 2-core machine that CPU is taken from the server being measured, so the
 * bench would measure its own client.
 */
export class LeanHttpPool {
  private readonly idle: LeanConnection[];
  private readonly queued: ((c: LeanConnection) => void)[] = [];

  private constructor(private readonly url: URL, connections: LeanConnection[]) {
    this.idle = connections;
  }

  static async open(base: string, size: number): Promise<LeanHttpPool> {
    const url = new URL(base);
    const connections = await Promise.all(Array.from({ length: size }, () => LeanConnection.open(Number(url.port), url.hostname)));
    return new LeanHttpPool(url, connections);
  }

  /** A request (with a JSON body, if given) as bytes to send as many times as wanted. */
  prepare(method: "GET" | "POST", path: string, json?: string): Buffer {
    const body = Buffer.from(json ?? "");
    const type = json === undefined ? "" : "Content-Type: application/json\r\n";
    const head = `${method} ${path} HTTP/1.1\r\nHost: ${this.url.host}\r\n${type}Content-Length: ${body.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, "latin1"), body]);
  }

  /** Sends a prepared request on the next free connection; rejects unless the answer has the expected status. */
  async call<T>(request: Buffer, expect: number): Promise<T> {
    const connection = this.idle.pop() ?? (await new Promise<LeanConnection>((resolve) => this.queued.push(resolve)));
    try {
      const { status, body } = await connection.send(request);
      if (status !== expect) throw new Error(`answered ${status}, expected ${expect}: ${body.toString().slice(0, 300)}`);
      return JSON.parse(body.toString()) as T;
    } finally {
      const next = this.queued.shift();
      if (next) next(connection);
      else this.idle.push(connection);
    }
  }

  close(): void {
    for (const c of this.idle) c.close();
  }
}

/** Runs `fn` `count` times with `parallel` calls in flight; returns calls per second. */
export async function rate(count: number, parallel: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await fn(next++);
    }),
  );
  return (count / (performance.now() - t0)) * 1000;
}
