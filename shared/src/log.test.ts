import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger } from "./log.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } };
}

test("one JSON line per call: level by name, ISO time, component, msg before the fields", () => {
  const { lines, destination } = capture();
  const log = createLogger("worker", "info", destination);
  log.debug("not at this level");
  log.info("job started", { job_id: "tiny-1", attempt: 2 });
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.deepEqual(Object.keys(line!), ["level", "time", "component", "msg", "job_id", "attempt"]);
  assert.equal(line!.level, "info");
  assert.ok(!Number.isNaN(Date.parse(String(line!.time))));
  assert.deepEqual([line!.component, line!.msg, line!.job_id, line!.attempt], ["worker", "job started", "tiny-1", 2]);
});

test("the level comes from LOG_LEVEL's value; a child adds its bindings to every line and keeps the level", () => {
  const { lines, destination } = capture();
  const log = createLogger("api", "warn", destination);
  const child = log.child({ request_id: "req-1" });
  child.info("below warn");
  child.error("unhandled error", { error: "Error: boom\n    at x.js:1:1" });
  log.warn("plain");
  assert.deepEqual(lines.map((l) => [l.level, l.msg, l.request_id]), [["error", "unhandled error", "req-1"], ["warn", "plain", undefined]]);
  assert.equal(lines[0]!.component, "api");
});
