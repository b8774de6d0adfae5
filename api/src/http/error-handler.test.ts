import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import express from "express";
import { ConflictError, ModelUnavailableError, TooManyRequestsError, UnauthorizedError, createLogger } from "@videosdgx/shared";
import { errorHandler, notFoundHandler } from "./error-handler.js";

let base: string;
let close: () => void;
before(async () => {
  const app = express();
  app.use(express.json({ limit: 100 }));
  app.post("/echo", (req, res) => {
    res.json(req.body);
  });
  app.get("/conflict", () => {
    throw new ConflictError("already finished");
  });
  app.get("/unavailable", () => {
    throw new ModelUnavailableError("model x is not installed", { reason: "missing file" });
  });
  app.get("/limited", () => {
    throw new TooManyRequestsError("rate_limited", "slow down", 42);
  });
  app.get("/anonymous", () => {
    throw new UnauthorizedError("send a key");
  });
  app.get("/bug", () => {
    throw new TypeError("cannot read properties of undefined");
  });
  app.get("/redis-down", () => {
    throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
  });
  app.use(notFoundHandler);
  app.use(errorHandler(createLogger("test", "error")));
  const server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
after(() => close());

async function call(path: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${base}${path}`, init);
  return { status: res.status, body: await res.json(), headers: res.headers };
}
const postJson = (body: string) => ({ method: "POST", headers: { "content-type": "application/json" }, body });

test("typed errors keep their status, code and details", async () => {
  assert.deepEqual(await call("/conflict").then((r) => [r.status, r.body]), [409, { error: { code: "conflict", message: "already finished" } }]);
  const unavailable = await call("/unavailable");
  assert.equal(unavailable.status, 503);
  assert.equal(unavailable.headers.get("retry-after"), "5");
  assert.deepEqual(unavailable.body.error.details, { reason: "missing file" });
});

test("body-parser failures become 400 and 413 in our shape", async () => {
  assert.equal((await call("/echo", postJson("{nope"))).body.error.code, "malformed_json");
  const big = await call("/echo", postJson(JSON.stringify({ x: "y".repeat(200) })));
  assert.deepEqual([big.status, big.body.error.code], [413, "payload_too_large"]);
});

test("an unexpected error is a 500 without internals, Redis down a 503", async () => {
  const bug = await call("/bug");
  assert.deepEqual(bug.body, { error: { code: "internal_error", message: "an internal error occurred; it has been logged" } });
  assert.equal(bug.status, 500);
  assert.equal((await call("/redis-down")).status, 503);
  assert.deepEqual((await call("/nowhere")).body.error.code, "not_found");
});

test("429 carries the error's Retry-After, 401 a challenge for both ways of sending the key", async () => {
  const limited = await call("/limited");
  assert.deepEqual([limited.status, limited.headers.get("retry-after"), limited.body.error.code], [429, "42", "rate_limited"]);
  const anonymous = await call("/anonymous");
  assert.deepEqual([anonymous.status, anonymous.body.error.code], [401, "unauthorized"]);
  assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer realm="VideosDGX", Basic realm="VideosDGX"/);
});
