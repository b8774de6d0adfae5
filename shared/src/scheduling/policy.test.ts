import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseEvictionVictim, passedMs, pickFifo, pickNext, type GpuCandidate } from "./policy.js";

const c = (workerId: string, model: string, loaded: boolean, since: number, passed = 0, priority = 0): GpuCandidate => ({
  workerId, model, loaded, since, priority, passedMs: passed,
});
const MAX_WAIT = 60_000;

test("a loaded model's job goes before an older job that would need a swap, while the older one has budget left", () => {
  const waiting = [c("b", "wan21", false, 1000, MAX_WAIT - 1), c("a", "ltx2", true, 2000)];
  assert.equal(pickNext(waiting, MAX_WAIT)?.workerId, "a");
  assert.equal(pickFifo(waiting)?.workerId, "b");
});

test("once younger jobs have held the GPU for maxWait while a job waited, nothing younger goes before it", () => {
  const waiting = [c("a", "ltx2", true, 5000), c("b", "wan21", false, 2000, MAX_WAIT), c("d", "magi1", false, 3000, MAX_WAIT)];
  assert.equal(pickNext(waiting, MAX_WAIT)?.workerId, "b");
  // A job older than the protected one is not passing it: the loaded one of those still goes first.
  const older = [c("a", "ltx2", true, 1000), c("b", "wan21", false, 2000, MAX_WAIT), c("d", "magi1", false, 500)];
  assert.equal(pickNext(older, MAX_WAIT)?.workerId, "a");
});

test("priority comes before loadedness, but not past a job whose budget is used up; age breaks ties", () => {
  assert.equal(pickNext([c("a", "ltx2", true, 1), c("b", "wan21", false, 2, 0, -1)], MAX_WAIT)?.workerId, "b");
  assert.equal(pickNext([c("a", "ltx2", false, 1, MAX_WAIT), c("b", "wan21", true, 2, 0, -1)], MAX_WAIT)?.workerId, "a");
  assert.equal(pickNext([c("a", "ltx2", true, 5), c("b", "ltx2", true, 2)], MAX_WAIT)?.workerId, "b");
  assert.equal(pickNext([], MAX_WAIT), undefined);
});

test("a job's passed time counts only jobs submitted after it", () => {
  assert.equal(passedMs([[100, 5], [200, 7], [300, 11]], 200), 11);
  assert.equal(passedMs([[100, 5], [200, 7], [300, 11]], 50), 23);
  assert.equal(passedMs([], 50), 0);
});

test("eviction spares models that waiting jobs need: idle ones least recently used first, then the youngest waiting job's", () => {
  const idle = [
    { id: "w1", model: "ltx2", lastUsedAt: 300 },
    { id: "w2", model: "wan21", lastUsedAt: 100, waitingSince: 50 },
    { id: "w3", model: "magi1", lastUsedAt: 200 },
  ];
  assert.equal(chooseEvictionVictim(idle)?.model, "magi1");
  assert.equal(chooseEvictionVictim([idle[1]!, { id: "w4", model: "wan13", lastUsedAt: 400, waitingSince: 70 }])?.model, "wan13");
  assert.equal(chooseEvictionVictim([]), undefined);
});
