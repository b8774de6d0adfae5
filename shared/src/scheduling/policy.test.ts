import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseEvictionVictim, pickFifo, pickNext, type GpuCandidate } from "./policy.js";

const c = (workerId: string, model: string, loaded: boolean, since: number, priority = 0): GpuCandidate => ({
  workerId, model, loaded, since, priority,
});

test("a loaded model's job goes before an older job that would need a swap", () => {
  const pick = pickNext([c("b", "wan21", false, 1000), c("a", "ltx2", true, 2000)], 5000, 60000);
  assert.equal(pick?.workerId, "a");
  assert.equal(pickFifo([c("b", "wan21", false, 1000), c("a", "ltx2", true, 2000)])?.workerId, "b");
});

test("waiting is bounded: past maxWait the longest-waiting job goes first, loaded or not", () => {
  const now = 100_000;
  const pick = pickNext([c("a", "ltx2", true, now - 10), c("b", "wan21", false, now - 61_000), c("d", "magi1", false, now - 70_000)], now, 60_000);
  assert.equal(pick?.workerId, "d");
});

test("priority comes before loadedness; age breaks ties", () => {
  assert.equal(pickNext([c("a", "ltx2", true, 1), c("b", "wan21", false, 2, -1)], 10, 60_000)?.workerId, "b");
  assert.equal(pickNext([c("a", "ltx2", true, 5), c("b", "ltx2", true, 2)], 10, 60_000)?.workerId, "b");
  assert.equal(pickNext([], 10, 60_000), undefined);
});

test("eviction picks the least recently used idle model", () => {
  const victim = chooseEvictionVictim([
    { id: "w1", model: "ltx2", lastUsedAt: 300 },
    { id: "w2", model: "wan21", lastUsedAt: 100 },
    { id: "w3", model: "magi1", lastUsedAt: 200 },
  ]);
  assert.equal(victim?.model, "wan21");
  assert.equal(chooseEvictionVictim([]), undefined);
});
