import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import express from "express";
import { ConflictError, ModelUnavailableError, TooManyRequestsError, UnauthorizedError, createLogger } from "@videosdgx/shared";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import { requestContext } from "./request-context.js";

/** What the API logged, line by line: the handler must log unexpected errors, with their stack. */
const logged: Record<string, any>[] = [];
const log = createLogger("test", "error", { write: (s: string) => void logged.push(JSON.parse(s)) });

let base: string;
let close: () => void;
before(async () => {
  const app = express();
  app.use(requestContext(log));
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
  // What send does for a Range outside the file: the file's headers are set, then a 416 http-error.
  app.get("/video", (_req, res) => {
    res.setHeader("Content-Type", "video/mp4");
    res.setHeader("ETag", 'W/"abc"');
    throw Object.assign(new Error("Range Not Satisfiable"), { status: 416, expose: true, headers: { "Content-Range": "bytes */1234" } });
  });
  app.get("/teapot", () => {
    throw Object.assign(new Error("short and stout"), { statusCode: 418 });
  });
  app.use(notFoundHandler);
  app.use(errorHandler(log));
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

test("every answer has an X-Request-Id; an unexpected error's stack is logged with it and never sent", async () => {
  logged.length = 0;
  const bug = await call("/bug", { headers: { "x-request-id": "trace-7" } });
  assert.equal(bug.headers.get("x-request-id"), "trace-7");
  assert.doesNotMatch(JSON.stringify(bug.body), /TypeError|at .*:\d+/);
  const [line] = logged;
  assert.equal(line?.msg, "unhandled error");
  assert.equal(line?.request_id, "trace-7");
  assert.match(line?.error, /^TypeError: cannot read properties of undefined\n\s+at /);
  assert.equal(logged.length, 1);

  const conflict = await call("/conflict", { headers: { "x-request-id": "no spaces allowed" } });
  assert.match(conflict.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/, "an id that is not sane is replaced");
  assert.equal(logged.length, 1, "an expected error is not logged as a bug");
  assert.match((await call("/nowhere")).headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
});

test("a library's 4xx keeps its status and headers, in JSON whatever type was set before", async () => {
  const range = await call("/video", { headers: { range: "bytes=5000-6000" } });
  assert.equal(range.status, 416);
  assert.match(range.headers.get("content-type") ?? "", /^application\/json/);
  assert.equal(range.headers.get("content-range"), "bytes */1234");
  assert.notEqual(range.headers.get("etag"), 'W/"abc"', "the file's ETag does not label the error");
  assert.deepEqual(range.body, { error: { code: "range_not_satisfiable", message: "Range bytes=5000-6000 selects no byte of the 1234-byte file" } });
  const teapot = await call("/teapot");
  assert.deepEqual([teapot.status, teapot.body.error.code, teapot.body.error.message], [418, "client_error", "short and stout"]);
});
