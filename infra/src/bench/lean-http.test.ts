import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { LeanHttpPool } from "./lean-http.js";

let server: Server;
let base: string;
before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.from(JSON.stringify({ path: req.url, echo: JSON.parse(Buffer.concat(chunks).toString()) as unknown }));
      if (req.url === "/chunked") return void res.writeHead(200, { "content-type": "application/json" }).end(body);
      const status = req.url === "/missing" ? 404 : 202;
      res.writeHead(status, { "content-type": "application/json", "content-length": body.length });
      // Head and body in separate packets, the body itself split: the client must reassemble them.
      res.flushHeaders();
      res.write(body.subarray(0, 5));
      setTimeout(() => res.end(body.subarray(5)), 5);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

test("answers split across packets are reassembled, on every connection of the pool", async () => {
  const pool = await LeanHttpPool.open(base, 3);
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) => pool.call<{ path: string; echo: { i: number } }>(pool.prepare("POST", "/jobs", JSON.stringify({ i })), 202)),
  );
  assert.deepEqual(answers.map((a) => a.echo.i), Array.from({ length: 20 }, (_, i) => i));
  assert.ok(answers.every((a) => a.path === "/jobs"));
  pool.close();
});

test("an unexpected status and an answer without Content-Length are errors", async () => {
  const pool = await LeanHttpPool.open(base, 1);
  await assert.rejects(pool.call(pool.prepare("POST", "/missing", "{}"), 202), /answered 404, expected 202/);
  await assert.rejects(pool.call(pool.prepare("POST", "/chunked", "{}"), 200), /without Content-Length/);
  pool.close();
});
