import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { generateTinyModel } from "@videosdgx/workers/tiny";
import { Platform } from "./platform.js";
import { readEvents, type SseEvent } from "./sse-reader.js";

async function collect(url: string, headers?: Record<string, string>, stopAfter = Infinity): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  const abort = new AbortController();
  try {
    for await (const e of readEvents(url, headers, abort.signal)) {
      if (e.comment !== undefined && e.event === undefined) continue;
      out.push(e);
      if (out.length >= stopAfter) break;
    }
  } finally {
    abort.abort();
  }
  return out;
}

const isAfter = (a: string, b: string) => {
  const [am, as] = a.split("-").map(Number) as [number, number];
  const [bm, bs] = b.split("-").map(Number) as [number, number];
  return am > bm || (am === bm && as > bs);
};

let p: Platform;
before(async () => {
  // "tinyidle" never gets a worker: its jobs stay queued.
  // KEEP_FAILED_SECONDS=0 (failed jobs are not kept): cancelling must still work, and a cancel is recorded.
  p = await Platform.start({ env: { SSE_HEARTBEAT_SECONDS: "1", KEEP_FAILED_SECONDS: "0" }, extraTinyModels: ["tinyidle"] });
});
after(() => p?.stop());

const job = { model: "tiny", prompt: "live", width: 64, height: 64, num_frames: 5, steps: 6, seed: 3 };

test("a queued job cancelled before any worker reaches it ends its stream at once, also on resume", async () => {
  // No worker runs for the model: only the API's own cancelled event can end these streams.
  const id = (await p.request("POST", "/v1/jobs", { ...job, model: "tinyidle", seed: 2 })).body.id;
  const url = `${p.base}/v1/jobs/${id}/events`;
  const reader = readEvents(url);
  const first = (await reader.next()).value as SseEvent;
  assert.deepEqual([first.event, first.data.status], ["state", "queued"]);
  const cancel = await p.request("DELETE", `/v1/jobs/${id}`);
  assert.equal(cancel.status, 202);
  const rest: SseEvent[] = [];
  for await (const e of reader) if (e.event) rest.push(e);
  assert.deepEqual(rest.map((e) => [e.event, e.data.status]), [["cancelled", "cancelled"]], "the stream ended with the cancellation");
  const resumed = await collect(url, { "last-event-id": first.id! });
  assert.deepEqual(resumed.map((e) => [e.event, e.data.status]), [["cancelled", "cancelled"]], "a resume replays it");
});

test("a job cancelled while queued is ahead of no one: positions, the model's queue depth and a new job's position leave it out", async () => {
  // tinyidle has no worker: its cancelled jobs (also the first test's) stay in BullMQ's wait list.
  const submit = async (seed: number) => (await p.request("POST", "/v1/jobs", { ...job, model: "tinyidle", seed })).body;
  const [a, b, c] = [await submit(11), await submit(12), await submit(13)];
  const position = async (id: string) => (await p.request("GET", `/v1/jobs/${id}`)).body.queue_position;
  assert.deepEqual([a.queue_position, b.queue_position, c.queue_position], [0, 1, 2]);
  const stream = readEvents(`${p.base}/v1/jobs/${c.id}/events`);
  const nextEvent = async (): Promise<SseEvent> => {
    for (;;) {
      const e = (await stream.next()).value as SseEvent;
      if (e.event) return e; // heartbeats (comments) come every second here
    }
  };
  assert.equal((await nextEvent()).data.queue_position, 2);
  assert.equal((await p.request("DELETE", `/v1/jobs/${b.id}`)).status, 202);
  const moved = await nextEvent();
  assert.deepEqual([moved.event, moved.data.queue_position], ["position", 1], "c's stream hears it moved up");
  await stream.return(undefined);
  assert.deepEqual([await position(a.id), await position(c.id)], [0, 1]);
  assert.equal((await p.request("GET", "/v1/models/tinyidle")).body.queue_depth, 2);
  const d = await submit(14);
  assert.equal(d.queue_position, 2);
  for (const id of [a.id, c.id, d.id]) await p.request("DELETE", `/v1/jobs/${id}`);
});

test("a queued job's stream: state with queue position, heartbeats, then every step to the end", async () => {
  const id = (await p.request("POST", "/v1/jobs", job)).body.id;
  const url = `${p.base}/v1/jobs/${id}/events`;
  const heard: SseEvent[] = [];
  const reader = readEvents(url);
  const first = (await reader.next()).value as SseEvent;
  assert.equal(first.event, "state");
  assert.equal(first.data.status, "queued");
  assert.equal(first.data.queue_position, 0);
  const ping = (await reader.next()).value as SseEvent;
  assert.equal(ping.comment, "keep-alive", "heartbeat while nothing happens");

  const listeners = Array.from({ length: 50 }, () => collect(url));
  await p.ensureWorker("tiny");
  for await (const e of reader) if (e.event) heard.push(e);

  const kinds = heard.map((e) => e.event);
  assert.equal(kinds.at(-1), "completed");
  assert.equal(heard.at(-1)!.data.status, "completed");
  assert.equal(heard.at(-1)!.data.result.num_frames, 5);
  assert.ok(kinds.includes("active"));
  assert.ok(kinds.filter((k) => k === "progress").length >= 6, `progress after every step: ${kinds.join(",")}`);
  for (let i = 1; i < heard.length; i++) assert.ok(isAfter(heard[i]!.id!, heard[i - 1]!.id!), "ids strictly increase");

  const all = await Promise.all(listeners);
  assert.ok(all.every((events) => events.at(-1)?.event === "completed"), "50 concurrent listeners all saw the end");
});

test("Last-Event-ID resumes without gaps or duplicates", async () => {
  const id = (await p.request("POST", "/v1/jobs", { ...job, steps: 40, width: 256, height: 256, num_frames: 33, seed: 4 })).body.id;
  const url = `${p.base}/v1/jobs/${id}/events`;
  const whole = collect(url);
  const firstPart = await collect(url, {}, 4);
  const resumed = await collect(url, { "last-event-id": firstPart.at(-1)!.id! });
  const reference = (await whole).filter((e) => e.event !== "state");
  const stitched = [...firstPart, ...resumed].filter((e) => e.event !== "state");
  assert.equal(resumed.at(-1)!.event, "completed");
  assert.equal(new Set(stitched.map((e) => e.id)).size, stitched.length, "no duplicates");
  const afterCut = reference.filter((e) => isAfter(e.id!, firstPart.at(-1)!.id!));
  const summary = (e: SseEvent) => [e.id, e.event, e.data.status, e.data.progress.phase, e.data.progress.step];
  // Replayed events carry the job as it was at each event, not as it is when the replay is sent.
  assert.deepEqual(resumed.map(summary), afterCut.map(summary), "the resumed stream is exactly what the uninterrupted one had after the cut");
  const steps = resumed.filter((e) => e.event === "progress" && e.data.progress.phase === "denoising").map((e) => e.data.progress.step);
  assert.ok(steps.length >= 10 && steps.every((s, i) => i === 0 || s === steps[i - 1] + 1), `one step at a time: ${steps.join(",")}`);
});

test("a finished job's stream sends its final state and ends; an unknown job is a JSON 404", async () => {
  const id = (await p.request("POST", "/v1/jobs", { ...job, seed: 5 })).body.id;
  await p.waitForTerminal(id);
  const events = await collect(`${p.base}/v1/jobs/${id}/events`);
  assert.deepEqual(events.map((e) => [e.event, e.data.status]), [["state", "completed"]]);
  const missing = await p.request("GET", "/v1/jobs/tiny-00000000-0000-0000-0000-000000000000/events");
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, "not_found");
});

test("a model installed after the API started: its jobs' events stream, count in the metrics, its queue is on the dashboard", async () => {
  await generateTinyModel(path.join(p.dataDir, "models", "tinylate"), { name: "tinylate" });
  const board = async () => ((await p.request("GET", "/admin/queues/api/queues")).body.queues as { name: string }[]).map((q) => q.name);
  assert.ok(!(await board()).includes("generate-tinylate"), "not on the dashboard before anything asks for it");
  await p.startWorker("tinylate");
  const id = (await p.request("POST", "/v1/jobs", { ...job, model: "tinylate", seed: 6 })).body.id;
  const events = await collect(`${p.base}/v1/jobs/${id}/events`);
  assert.equal(events.at(-1)!.event, "completed");
  assert.ok(events.some((e) => e.event === "progress" && e.data.progress.phase === "denoising"), `every step is streamed: ${events.map((e) => e.event)}`);
  assert.ok((await board()).includes("generate-tinylate"));
  const metrics = (await p.request("GET", "/metrics")).body as string;
  assert.match(metrics, /vdgx_jobs_finished_total\{[^}]*model="tinylate"[^}]*\} 1/);
});
