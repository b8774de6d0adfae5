import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { waitFor } from "@videosdgx/shared/testing";

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Answer only once this settles (a slow receiver). */
  after?: Promise<unknown>;
}

/** A real HTTP receiver on loopback whose answers a test sets per path; it records every request. */
export class WebhookReceiver {
  readonly received: Received[] = [];
  private readonly replies = new Map<string, (r: Received) => Reply>();
  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(port = 0): Promise<WebhookReceiver> {
    let self: WebhookReceiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const r: Received = { path: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() };
        self!.received.push(r);
        const reply = self!.replies.get(r.path)?.(r) ?? { status: 200 };
        await reply.after;
        res.writeHead(reply.status, reply.headers).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    self = new WebhookReceiver(server, (server.address() as AddressInfo).port);
    return self;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  reply(path: string, fn: (r: Received) => Reply): void {
    this.replies.set(path, fn);
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  waitFor(what: string, done: () => boolean, timeoutMs = 60000): Promise<true> {
    return waitFor(what, () => done() || undefined, timeoutMs, 50);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
