import { Agent, request } from "node:http";

// node:http with keep-alive rather than fetch: undici's client costs several times more CPU per request,
// and on a small machine that CPU would be taken from the server being measured.
const agent = new Agent({ keepAlive: true, maxSockets: 32 });

/** One request over the benches' keep-alive pool; rejects unless the answer has the expected status. */
export function call<T = unknown>(method: string, url: string, expect: number, body?: string): Promise<T> {
  const u = new URL(url);
  const headers: Record<string, string | number> = body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        if (res.statusCode !== expect) reject(new Error(`${method} ${u.pathname} answered ${res.statusCode}`));
        else resolve(JSON.parse(Buffer.concat(chunks).toString()) as T);
      });
    });
    req.on("error", reject);
    req.end(body);
  });
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
