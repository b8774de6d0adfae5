import assert from "node:assert/strict";
import { test } from "node:test";
import { Redis } from "ioredis";
import { redisForTests } from "../testing/unit-redis.js";
import { redisKeys } from "../queues.js";
import { MemoryLedger } from "./ledger.js";

const GB = 1_000_000_000;
const server = redisForTests("ledger");

let n = 0;
const ledger = (budget: number, leaseMs = 10000) => new MemoryLedger(server.client, `t${n++}`, "host-a", budget, leaseMs);

test("grants within the budget, refuses past it, and says how much others hold", async () => {
  const l = ledger(100 * GB);
  const a = await l.reserve("a", 60 * GB);
  assert.ok(a.granted);
  const b = await l.reserve("b", 50 * GB);
  assert.deepEqual(b, { granted: false, heldByOthers: 60 * GB });
  assert.ok(a.granted && (await l.release(a.grant)));
  assert.ok((await l.reserve("b", 50 * GB)).granted);
  assert.equal((await l.state()).sum, 50 * GB);
});

test("shrinking to the resident footprint frees room; renewals never grow a reservation", async () => {
  const l = ledger(100 * GB);
  const peak = await l.reserve("ltx2", 90 * GB);
  assert.ok(peak.granted);
  assert.equal((await l.reserve("wan", 40 * GB)).granted, false);
  assert.ok(await l.renew(peak.grant, 45 * GB));
  assert.equal(peak.grant.bytes, 45 * GB);
  assert.ok(await l.renew(peak.grant, 80 * GB));
  assert.equal((await l.state()).reservations.ltx2, 45 * GB);
  assert.ok((await l.reserve("wan", 40 * GB)).granted);
  assert.equal((await l.state()).highWater, 90 * GB);
});

test("a dead holder's lease runs out and frees its memory; its stale grant cannot act", async () => {
  const l = ledger(10 * GB, 300);
  const dead = await l.reserve("dead", 8 * GB);
  assert.ok(dead.granted);
  assert.equal((await l.reserve("live", 5 * GB)).granted, false);
  await new Promise((r) => setTimeout(r, 400));
  const live = await l.reserve("live", 5 * GB);
  assert.ok(live.granted, "expired lease released");
  assert.equal(await l.renew(dead.grant), false, "expired holder cannot renew");
  assert.equal(await l.release(dead.grant), false);
  assert.deepEqual((await l.state()).reservations, { live: 5 * GB });
});

test("every view frees an expired lease's memory at once, with no new reservation to do it", async () => {
  const l = ledger(10 * GB, 300);
  assert.ok((await l.reserve("killed", 8 * GB)).granted);
  assert.equal((await l.state()).sum, 8 * GB);
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual((await l.state()).reservations, {});
  assert.equal(await server.client.zcard(redisKeys(`t${n - 1}`).memory("host-a").leases), 0, "its lease is gone too");
});

test("a new grant fences off the holder's earlier one", async () => {
  const l = ledger(10 * GB);
  const first = await l.reserve("w", 2 * GB);
  const second = await l.reserve("w", 3 * GB);
  assert.ok(first.granted && second.granted);
  assert.ok(Number(second.grant.token) > Number(first.grant.token));
  assert.equal(await l.release(first.grant), false);
  assert.equal((await l.state()).sum, 3 * GB);
});

test("concurrent reservations from many connections never pass the budget", async () => {
  const prefix = `t${n++}`;
  const l = new MemoryLedger(server.client, prefix, "host-a", 100, 10000);
  const clients = Array.from({ length: 8 }, () => new Redis(server.url));
  const ledgers = clients.map((c) => new MemoryLedger(c, prefix, "host-a", 100, 10000));
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => ledgers[i % 8]!.reserve(`h${i}`, 1 + (i % 13))),
  );
  const state = await l.state();
  assert.ok(state.sum <= 100 && state.highWater <= 100, `sum ${state.sum}, high water ${state.highWater}`);
  assert.equal(state.sum, results.filter((r) => r.granted).reduce((a, r) => a + (r.granted ? r.grant.bytes : 0), 0));
  clients.forEach((c) => c.disconnect());
});
