import assert from "node:assert/strict";
import { test } from "node:test";
import { Redis } from "ioredis";
import { redisKeys } from "../queues.js";
import { redisForTests } from "../testing/unit-redis.js";
import { ApiKeyStore } from "./api-keys.js";
import { hasScope, isLoopbackHost, parseScopes } from "./access.js";

const server = redisForTests("api-keys");

let n = 0;
const store = () => new ApiKeyStore(server.client, `k${n++}`);

test("a created key verifies; only its SHA-256 is stored, never the key", async () => {
  const s = store();
  const created = await s.create(["jobs:read", "jobs:write", "jobs:read"], "ci");
  assert.match(created.key, /^vdgx_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  assert.match(created.webhook_secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(Buffer.from(created.webhook_secret.slice(6), "base64").length, 32);
  assert.deepEqual(created.scopes, ["jobs:read", "jobs:write"], "repeated scopes are kept once");

  const record = await s.verify(created.key);
  assert.deepEqual(record, { id: created.id, name: "ci", scopes: ["jobs:read", "jobs:write"], created_at: created.created_at });
  const stored = JSON.stringify(await server.client.hgetall(redisKeys(`k${n - 1}`).apiKey(created.id)));
  assert.ok(!stored.includes(created.key.slice(18)), "the secret part is not stored");
  assert.equal(await s.webhookSecret(created.id), created.webhook_secret);
  assert.equal(await s.webhookSecret("000000000000"), undefined);
});

test("a wrong secret, an unknown id or a malformed key does not verify", async () => {
  const s = store();
  const { key, id } = await s.create(["admin"]);
  const last = key.at(-1) === "A" ? "B" : "A";
  assert.equal(await s.verify(key.slice(0, -1) + last), undefined);
  assert.equal(await s.verify(key.replace(id, "ffffffffffff")), undefined);
  assert.equal(await s.verify(`${key}x`), undefined);
  assert.equal(await s.verify(""), undefined);
  assert.equal(await s.verify("Bearer nonsense"), undefined);
});

test("revoking keeps the record, marks it and counts it out; keys list oldest first", async () => {
  const s = store();
  assert.equal(await s.activeCount(), 0);
  assert.equal(await s.anyCreated(), false);
  const a = await s.create(["jobs:read"], "a");
  const b = await s.create(["admin"], "b");
  assert.equal(await s.activeCount(), 2);
  const revoked = await s.revoke(a.id);
  assert.ok(revoked?.revoked_at);
  assert.equal((await s.revoke(a.id))?.revoked_at, revoked.revoked_at, "a second revoke changes nothing");
  assert.equal(await s.revoke("nosuchkey000"), undefined);
  assert.equal(await s.activeCount(), 1);
  await s.revoke(b.id);
  assert.equal(await s.activeCount(), 0);
  assert.equal(await s.anyCreated(), true, "revoking every key does not undo that keys were created");
  assert.ok((await s.verify(a.key))?.revoked_at, "a revoked key is still recognised, as revoked");
  assert.deepEqual((await s.list()).map((k) => [k.id, k.name, Boolean(k.revoked_at)]), [[a.id, "a", true], [b.id, "b", true]]);
  assert.ok((await s.list()).every((k) => !("key" in k) && !("webhook_secret" in k)));
});

test("creating and revoking publish the key id for API caches", async () => {
  const s = store();
  const sub = new Redis(server.url);
  const heard: string[] = [];
  sub.on("message", (_channel, id: string) => heard.push(id));
  await sub.subscribe(redisKeys(`k${n - 1}`).apiKeyEvents);
  const { id } = await s.create(["jobs:write"]);
  await s.revoke(id);
  await s.touch(id);
  for (let i = 0; i < 50 && heard.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  sub.disconnect();
  assert.deepEqual(heard, [id, id]);
  assert.ok((await s.get(id))?.last_used_at);
});

test("scopes: admin implies the others, which are independent; parsing refuses unknown ones", () => {
  assert.ok(hasScope(["admin"], "jobs:write"));
  assert.ok(!hasScope(["jobs:write"], "jobs:read"));
  assert.ok(!hasScope(["jobs:read", "jobs:write"], "admin"));
  assert.deepEqual(parseScopes(" jobs:write, jobs:read ,jobs:write"), ["jobs:write", "jobs:read"]);
  assert.throws(() => parseScopes("jobs:write,root"), /unknown scope root/);
  assert.throws(() => parseScopes(","), /at least one scope/);
});

test("loopback hosts are recognised, wildcard and external addresses are not", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"]) assert.ok(isLoopbackHost(h), h);
  for (const h of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com", "128.0.0.1"]) assert.ok(!isLoopbackHost(h), h);
});
