import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { test, type TestContext } from "node:test";
import { QueueEventsProducer } from "bullmq";
import express from "express";
import { loadConfig, queueName, type JobResource } from "@videosdgx/shared";
import { redisForTests } from "@videosdgx/shared/testing";
import type { AppContext } from "../context.js";
import { QueueEventsHub } from "../services/queue-events-hub.js";
import { streamJob } from "./job-events.js";

const redis = redisForTests("job-events");
const MODEL = "m";
const JOB = "m-1";

/**
 * The job as the store reads it. The real store reads BullMQ's records; what matters here is when the
 * stream reads it relative to the events, which the test decides through `onRead`.
 */
let status: JobResource["status"] = "running";
let onRead: (() => Promise<void>) | undefined;
const resource = (): JobResource => ({ id: JOB, model: MODEL, status } as JobResource);

let hub: QueueEventsHub;
let producer: QueueEventsProducer;
let base: string;
/** The route over a real hub of the test Redis (set up in the test: Node 20 runs file-level hooks out of order). */
async function serve(t: TestContext): Promise<void> {
  const config = loadConfig({ REDIS_URL: redis.url });
  hub = new QueueEventsHub(config, redis.client, redis.url);
  producer = new QueueEventsProducer(queueName(MODEL), { connection: redis.connection(), prefix: config.QUEUE_PREFIX });
  const jobs = {
    async get() {
      const seen = resource();
      const hook = onRead;
      onRead = undefined;
      await hook?.();
      return seen;
    },
  };
  const ctx = { config, events: hub, jobs } as unknown as AppContext;
  const app = express();
  app.get("/v1/jobs/:id/events", (req, res, next) => {
    res.locals.principal = { scopes: ["admin"] };
    streamJob(ctx, req, res).catch(next);
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    server.close();
    await producer.close();
    await hub.close();
  });
}

/** The stream's events, as `event` names and statuses, until it ends or `ms` pass. */
async function eventsOf(ms: number): Promise<{ events: string[]; ended: boolean }> {
  const res = await fetch(`${base}/v1/jobs/${JOB}/events`, { signal: AbortSignal.timeout(ms) });
  const events: string[] = [];
  let text = "";
  try {
    for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      for (let cut = text.indexOf("\n\n"); cut >= 0; cut = text.indexOf("\n\n")) {
        const block = text.slice(0, cut);
        text = text.slice(cut + 2);
        const kind = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (kind && data) events.push(`${kind}:${JSON.parse(data).status}`);
      }
    }
    return { events, ended: true };
  } catch {
    return { events, ended: false };
  }
}

test("an end that lands between the stream's reads of the job and of the newest event is still sent", async (t) => {
  await serve(t);
  // The job is read as running on the stream's first look (is it there?) and again for its state; just
  // after that state read the job ends, and the hub has passed its event on before the stream goes on.
  onRead = async () => {
    onRead = async () => {
      const relayed = new Promise<void>((resolve) => hub.once(`job:${JOB}`, () => resolve()));
      status = "cancelled";
      await producer.publishEvent({ eventName: "failed", jobId: JOB, failedReason: "cancelled by request" });
      await relayed;
    };
  };
  const { events, ended } = await eventsOf(5000);
  assert.ok(ended, `the stream ends at the job's end: it sent ${events.join(", ")} and hung`);
  assert.deepEqual(events, ["state:running", "failed:cancelled"]);
});
