import assert from "node:assert/strict";
import { test } from "node:test";
import { Redis } from "ioredis";
import { KNOWN_MODELS, MemoryLedger, readMemInfo, redisKeys, type Manifest } from "@videosdgx/shared";
import { redisForTests } from "@videosdgx/shared/testing";
import { MemoryGuard } from "./memory-guard.js";

const server = redisForTests("memory-guard");
const RETAINED = 300 * 1024 * 1024;

test("a grant the host cannot back shrinks back to what the process still holds, and the lease stays live", async () => {
  const prefix = "guard";
  // More than this machine has available, yet within the ledger's budget: the ledger grants, MemAvailable refuses.
  const needed = (await readMemInfo()).availableBytes * 2;
  const ledger = new MemoryLedger(server.client, prefix, "host-a", needed * 4, 10_000);
  const subscriber = new Redis(server.url);
  const guard = new MemoryGuard({
    ledger,
    redis: server.client,
    subscriber,
    keys: redisKeys(prefix),
    workerId: "w1",
    gpuWaiters: async () => [],
    onEvictRequest: async () => false,
    otherChannels: {},
  });
  try {
    // What an earlier model left in this process after its unload.
    const earlier = await ledger.reserve("w1", RETAINED);
    assert.ok(earlier.granted);
    guard.grant = earlier.grant;
    const base = KNOWN_MODELS.get("tiny")!;
    const manifest: Manifest = { ...base, memory: { resident_bytes: needed, load_peak_factor: 1 } };
    const stop = new Error("stop waiting");
    await assert.rejects(
      guard.acquire("big", manifest, async () => {
        throw stop;
      }),
      stop,
    );
    assert.equal((await ledger.state()).reservations.w1, RETAINED);
    assert.equal(guard.grant?.bytes, RETAINED);
    assert.ok(await guard.renew());
  } finally {
    subscriber.disconnect();
  }
});

test("a lost lease is forgotten: the heartbeat reports it once, not forever", async () => {
  const prefix = "guard-lost";
  const ledger = new MemoryLedger(server.client, prefix, "host-a", 10 * RETAINED, 10_000);
  const guard = new MemoryGuard({
    ledger,
    redis: server.client,
    subscriber: new Redis(server.url, { lazyConnect: true }),
    keys: redisKeys(prefix),
    workerId: "w1",
    gpuWaiters: async () => [],
    onEvictRequest: async () => false,
    otherChannels: {},
  });
  const first = await ledger.reserve("w1", RETAINED);
  assert.ok(first.granted);
  guard.grant = first.grant;
  // Another reservation under the same holder fences the first token off.
  assert.ok((await ledger.reserve("w1", RETAINED)).granted);
  assert.equal(await guard.renew(), false);
  assert.equal(guard.grant, undefined);
  assert.ok(await guard.renew());
});
