import assert from "node:assert/strict";
import { test } from "node:test";
import type { MemoryWait } from "@videosdgx/shared";
import { WaitReports } from "./wait-reports.js";

const GB = 1e9;
const wait = (available: number, message = "waiting for memory: the rest is held outside the platform"): MemoryWait => ({
  host: "spark-1",
  available_bytes: available,
  needed_bytes: 10 * GB,
  held_by_others_bytes: 0,
  budget_bytes: 100 * GB,
  message,
});

test("repeated wake-ups of an unchanged wait are not reported again", () => {
  const r = new WaitReports();
  assert.ok(r.changed("waiting_for_gpu", undefined, 0));
  assert.equal(r.changed("waiting_for_gpu", undefined, 2000), false);
  assert.equal(r.changed("waiting_for_gpu", undefined, 4000), false);
});

test("a new phase, a material move in memory or a different reason is reported", () => {
  const r = new WaitReports();
  assert.ok(r.changed("waiting_for_gpu", undefined, 0));
  assert.ok(r.changed("waiting_for_memory", wait(5 * GB), 1));
  assert.equal(r.changed("waiting_for_memory", wait(5 * GB + 0.1 * GB), 2), false);
  assert.ok(r.changed("waiting_for_memory", wait(6 * GB), 3));
  assert.ok(r.changed("waiting_for_memory", wait(6 * GB, "waiting for memory: asked idle model wan to unload"), 4));
});

test("an unchanged wait is still refreshed now and then", () => {
  const r = new WaitReports();
  assert.ok(r.changed("waiting_for_memory", wait(5 * GB), 0));
  assert.equal(r.changed("waiting_for_memory", wait(5 * GB), 29_000), false);
  assert.ok(r.changed("waiting_for_memory", wait(5 * GB), 31_000));
});
