import assert from "node:assert/strict";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, test } from "node:test";
import { Queue } from "bullmq";
import { BullLayout, WEBHOOK_QUEUE, WebhookBodySchema, createRedis, queueName, redisKeys } from "@videosdgx/shared";
import { freePort, waitFor } from "@videosdgx/shared/testing";
import { Platform } from "./platform.js";
import { WebhookReceiver, type Received } from "./webhook-receiver.js";

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
const SCHEDULE_S = [0, 1, 1, 2, 2, 3];
let p: Platform;
let receiver: WebhookReceiver;

before(async () => {
  p = await Platform.start({
    extraTinyModels: ["tinyb", "tinyc"],
    env: {
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
      WEBHOOK_RETRY_SCHEDULE: SCHEDULE_S.join(","),
      WEBHOOK_TIMEOUT_MS: "20000",
    },
  });
  receiver = await WebhookReceiver.start();
  await p.startWorker("tiny");
  await p.startWebhooks();
});
after(async () => {
  await receiver?.close();
  await p?.stop();
});

/** The receiver's side of Standard Webhooks, written from the specification, independent of the platform's signer. */
function verify(r: Received, secret = SECRET): { type: string; timestamp: string; data: any } {
  const id = String(r.headers["webhook-id"]);
  const ts = Number(r.headers["webhook-timestamp"]);
  assert.ok(Math.abs(Date.now() / 1000 - ts) < 300, "timestamp within 5 minutes");
  const key = Buffer.from(secret.split("_")[1]!, "base64");
  const expected = createHmac("sha256", key).update(`${id}.${ts}.${r.body}`).digest();
  const signatures = String(r.headers["webhook-signature"]).split(" ").map((s) => s.split(","));
  assert.ok(
    signatures.some(([v, sig]) => v === "v1" && sig !== undefined && Buffer.from(sig, "base64").length === expected.length && timingSafeEqual(Buffer.from(sig, "base64"), expected)),
    `a valid v1 signature for ${id}`,
  );
  assert.equal(r.headers["content-type"], "application/json");
  const body = JSON.parse(r.body);
  // Every body the receiver gets is one the webhook body schema (the OpenAPI document's) describes.
  const shape = WebhookBodySchema.safeParse(body);
  assert.ok(shape.success, `the body matches WebhookBodySchema: ${shape.error?.message}`);
  return body;
}

const small = (model: string, webhook: object, seed = 1) => ({ model, prompt: "a hooked job", width: 64, height: 64, num_frames: 5, steps: 3, seed, webhook });
const submit = async (body: object) => {
  const res = await p.request("POST", "/v1/jobs", body);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.id as string;
};
/** The dispatcher has read every event of the model's stream so far. */
async function dispatcherCaughtUp(model: string): Promise<void> {
  const redis = createRedis(p.redis.url, "worker");
  const keys = redisKeys(p.env.QUEUE_PREFIX!);
  try {
    await waitFor(`the dispatcher to read ${model}'s events`, async () => {
      const [[last] = []] = await redis.xrevrange(new BullLayout(p.env.QUEUE_PREFIX!).events(queueName(model)), "+", "-", "COUNT", 1);
      return last !== undefined && (await redis.get(keys.webhookCursor(model))) === last;
    }, 30000);
  } finally {
    redis.disconnect();
  }
}
const deliveries = async (id: string) => (await p.request("GET", `/v1/jobs/${id}`)).body.webhook.deliveries as any[];
const waitDeliveries = (id: string, done: (d: any[]) => boolean) => p.waitForJob(id, (j) => done(j.webhook.deliveries), 60000).then((j) => j.webhook.deliveries as any[]);

test("every event type reaches the receiver in order, signed per the spec, with the job as GET shows it", async () => {
  const all = ["queued", "started", "progress", "completed"];
  const id = await submit(small("tiny", { url: receiver.url("/order"), events: all }));
  await receiver.waitFor("the completed event", () => receiver.on("/order").some((r) => verify(r).type === "job.completed"));
  const types = receiver.on("/order").map((r) => verify(r).type);
  assert.equal(types[0], "job.queued");
  assert.equal(types[1], "job.started");
  assert.equal(types.at(-1), "job.completed");
  assert.ok(types.slice(2, -1).length >= 3 && types.slice(2, -1).every((t) => t === "job.progress"), types.join(","));
  const ids = receiver.on("/order").map((r) => r.headers["webhook-id"]);
  assert.equal(new Set(ids).size, ids.length, "one webhook-id per message");
  const done = verify(receiver.on("/order").at(-1)!);
  assert.equal(done.data.id, id);
  assert.equal(done.data.status, "completed");
  assert.match(done.data.result.sha256, /^[0-9a-f]{64}$/);
  const steps = receiver.on("/order").map((r) => verify(r).data.progress.step as number);
  assert.deepEqual(steps, [...steps].sort((a, b) => a - b), "progress never goes back");
  const shown = await waitDeliveries(id, (d) => d.length === types.length && d.every((x) => x.status === "delivered"));
  assert.deepEqual(shown.map((d) => d.event), types.map((t) => t.slice(4)));
  assert.equal(shown[0].attempts[0].status_code, 200);

  // failed: a sound graph with an operator the runtime does not know (it fails to load); cancelled: a
  // queued job cancelled before any worker took it.
  await p.makeUnloadable("tinyb");
  const failed = await submit(small("tinyb", { url: receiver.url("/failed") }));
  await p.startWorker("tinyb");
  await receiver.waitFor("the failed event", () => receiver.on("/failed").length > 0);
  const f = verify(receiver.on("/failed")[0]!);
  assert.equal(f.type, "job.failed");
  assert.equal(f.data.id, failed);
  assert.equal(f.data.error.code, "model_load_failed");
  // Retried and failed again: a second job.failed, a new message (not taken for a repeat of the first).
  assert.equal((await p.request("POST", `/v1/jobs/${failed}/retry`)).status, 202);
  await receiver.waitFor("the second failed event", () => receiver.on("/failed").length > 1);
  const [first, second] = receiver.on("/failed").map((r) => verify(r));
  assert.equal(second!.type, "job.failed");
  assert.notEqual(receiver.on("/failed")[1]!.headers["webhook-id"], receiver.on("/failed")[0]!.headers["webhook-id"]);
  assert.notEqual(second!.data.finished_at, first!.data.finished_at);
  const queued = await submit(small("tinyc", { url: receiver.url("/cancelled"), events: ["queued", "started", "cancelled"] }));
  await receiver.waitFor("the queued event", () => receiver.on("/cancelled").length > 0);
  assert.equal((await p.request("DELETE", `/v1/jobs/${queued}`)).status, 202);
  await receiver.waitFor("the cancelled event", () => receiver.on("/cancelled").length > 1);
  const c = verify(receiver.on("/cancelled")[1]!);
  assert.deepEqual([c.type, c.data.id, c.data.status], ["job.cancelled", queued, "cancelled"]);
  // A worker reaching the cancelled job later finalises it: no "started" after "cancelled", no second "cancelled".
  await p.startWorker("tinyc");
  await p.waitForJob(queued, (j) => j.finished_at !== undefined);
  await dispatcherCaughtUp("tinyc");
  await waitDeliveries(queued, (d) => d.every((x) => x.status === "delivered"));
  assert.deepEqual(receiver.on("/cancelled").map((r) => verify(r).type), ["job.queued", "job.cancelled"]);
});

test("a receiver that is down gets the delivery once it is back; each attempt is shown on the job", async () => {
  const port = await freePort();
  const id = await submit(small("tiny", { url: `http://127.0.0.1:${port}/late` }, 2));
  const failing = await waitDeliveries(id, (d) => d[0]?.attempts.length >= 2);
  assert.equal(failing[0].status, "retrying");
  assert.match(failing[0].attempts[0].error, /ECONNREFUSED/);
  assert.ok(failing[0].next_attempt_at, "the next attempt's time is shown");
  const late = await WebhookReceiver.start(port);
  try {
    await late.waitFor("the late delivery", () => late.received.length > 0);
    assert.equal(verify(late.received[0]!).data.id, id);
    const shown = await waitDeliveries(id, (d) => d[0]?.status === "delivered");
    assert.ok(shown[0].attempts.length >= 3);
    assert.equal(shown[0].attempts.at(-1).status_code, 200);
  } finally {
    await late.close();
  }
});

test("410 stops the job's messages; Retry-After is honoured; after the last attempt the message is dead-lettered and can be redelivered", async () => {
  receiver.reply("/gone", () => ({ status: 410 }));
  const gone = await submit(small("tiny", { url: receiver.url("/gone"), events: ["started", "completed"] }, 3));
  const g = await waitDeliveries(gone, (d) => d.length === 2 && d.every((x) => x.status !== "pending" && x.status !== "retrying"));
  assert.deepEqual(g.map((d) => [d.event, d.status]), [["started", "gone"], ["completed", "skipped"]]);
  assert.equal(receiver.on("/gone").length, 1, "nothing is sent after a 410");

  receiver.reply("/moved", () => ({ status: 302, headers: { location: receiver.url("/elsewhere") } }));
  const moved = await submit(small("tiny", { url: receiver.url("/moved") }, 6));
  const m = await waitDeliveries(moved, (d) => d[0]?.attempts.length >= 1);
  assert.deepEqual([m[0].status, m[0].attempts[0].status_code, m[0].attempts[0].error], ["retrying", 302, "redirects are not followed"]);
  assert.equal(receiver.on("/elsewhere").length, 0, "a redirect is a failure, never followed");

  let calls = 0;
  receiver.reply("/busy", () => (++calls === 1 ? { status: 429, headers: { "retry-after": "3" } } : { status: 200 }));
  const busy = await submit(small("tiny", { url: receiver.url("/busy") }, 4));
  const retrying = await waitDeliveries(busy, (d) => d[0]?.status === "retrying");
  const delay = Date.parse(retrying[0].next_attempt_at) - Date.parse(retrying[0].attempts[0].at);
  assert.ok(delay >= 3000, `the next attempt is planned ${delay} ms later, as Retry-After: 3 says (the schedule alone says ~1 s)`);
  const b = await waitDeliveries(busy, (d) => d[0]?.status === "delivered");
  assert.deepEqual(b[0].attempts.map((a: any) => a.status_code), [429, 200]);

  let up = false;
  receiver.reply("/dead", () => ({ status: up ? 204 : 500 }));
  const dead = await submit(small("tiny", { url: receiver.url("/dead") }, 5));
  const d = await waitDeliveries(dead, (x) => x[0]?.status === "dead");
  assert.equal(d[0].attempts.length, SCHEDULE_S.length);
  assert.ok(d[0].attempts.every((a: any) => a.status_code === 500));
  up = true;
  const again = await p.request("POST", `/v1/jobs/${dead}/webhook/redeliver`, {});
  assert.equal(again.status, 202, JSON.stringify(again.body));
  assert.equal(again.body.message_id, d[0].message_id);
  await receiver.waitFor("the redelivery", () => receiver.on("/dead").length === SCHEDULE_S.length + 1);
  const [orig, resent] = [receiver.on("/dead")[0]!, receiver.on("/dead").at(-1)!];
  assert.equal(resent.headers["webhook-id"], orig.headers["webhook-id"], "the same message");
  assert.equal(resent.body, orig.body);
  verify(resent);
  assert.equal((await p.request("POST", `/v1/jobs/${dead}/webhook/redeliver`, { message_id: "msg_nope" })).status, 404);
});

test("a slow receiver never slows jobs", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  receiver.reply("/slow", () => ({ status: 200, after: held }));
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await submit(small("tiny", { url: receiver.url("/slow"), events: ["started", "completed"] }, 10 + i)));
  for (const id of ids) assert.equal((await p.waitForTerminal(id)).status, "completed");
  assert.ok(receiver.on("/slow").length >= 1, "the receiver holds a request...");
  assert.equal((await deliveries(ids[2]!)).filter((x) => x.status === "delivered").length, 0, "...while every job has completed");
  release();
  for (const id of ids) await waitDeliveries(id, (d) => d.length === 2 && d.every((x) => x.status === "delivered"));
});

test("deliveries survive restarts, and events that happen while the webhook process is down are sent when it is back", async () => {
  const port = await freePort();
  const first = await submit(small("tiny", { url: `http://127.0.0.1:${port}/survive` }, 20));
  await waitDeliveries(first, (d) => d[0]?.attempts.length >= 1);
  p.webhooks!.child.kill("SIGKILL");
  await p.webhooks!.exited;
  const second = await submit(small("tiny", { url: `http://127.0.0.1:${port}/survive` }, 21));
  assert.equal((await p.waitForTerminal(second)).status, "completed", "jobs complete while nobody delivers");
  await Promise.all([p.api.stop(), p.workers.get("tiny")!.stop()]);
  await p.startApi();
  await p.startWorker("tiny");
  await p.startWebhooks();
  const late = await WebhookReceiver.start(port);
  try {
    await late.waitFor("both jobs' completed events", () => new Set(late.received.map((r) => verify(r).data.id)).size === 2);
    assert.deepEqual(new Set(late.received.map((r) => verify(r).data.id)), new Set([first, second]));
    assert.equal(late.received.length, 2, "each message once");
  } finally {
    await late.close();
  }
});

test("a message whose delivery job is removed (e.g. from the dashboard) does not hold back the job's later messages", async () => {
  receiver.reply("/heal", (r) => ({ status: JSON.parse(r.body).type === "job.started" ? 500 : 200 }));
  const id = await submit(small("tiny", { url: receiver.url("/heal"), events: ["started", "completed"] }, 40));
  const stuck = await waitDeliveries(id, (d) => d[0]?.status === "retrying" && d.length === 2);
  assert.equal(stuck[1].status, "pending", "completed waits behind started");
  const connection = createRedis(p.redis.url, "worker");
  const outbox = new Queue(WEBHOOK_QUEUE, { connection, prefix: p.env.QUEUE_PREFIX });
  try {
    await waitFor("the started message to be removable", async () => (await outbox.remove(stuck[0].message_id)) === 1, 20000, 100);
  } finally {
    await outbox.close(); // a connection passed in is not closed by BullMQ
    connection.disconnect();
  }
  await receiver.waitFor("the completed message", () => receiver.on("/heal").some((r) => verify(r).type === "job.completed"));
});

test("terminal messages of jobs whose events were trimmed from the stream unread are recovered", async () => {
  await p.waitForTerminal(await submit(small("tiny", { url: receiver.url("/before-trim") }, 42)));
  await dispatcherCaughtUp("tiny"); // the dispatcher has a cursor in the stream
  await p.webhooks!.stop();
  const id = await submit(small("tiny", { url: receiver.url("/trimmed"), events: ["started", "completed"] }, 41));
  assert.equal((await p.waitForTerminal(id)).status, "completed");
  const redis = createRedis(p.redis.url, "worker");
  await redis.xtrim(new BullLayout(p.env.QUEUE_PREFIX!).events(queueName("tiny")), "MAXLEN", 0); // as BullMQ's cap would
  redis.disconnect();
  await p.startWebhooks();
  await receiver.waitFor("the recovered completed message", () => receiver.on("/trimmed").length > 0);
  assert.deepEqual(receiver.on("/trimmed").map((r) => [verify(r).type, verify(r).data.id]), [["job.completed", id]]);
  assert.match(p.webhooks!.output, /trimmed from the stream before they were read/);
});

test("private destinations are refused at submit", async () => {
  for (const url of ["http://10.0.0.1/h", "http://[::1]:9/h", "http://localhost:9/h", "http://169.254.169.254/", "http://0x0a000001/"]) {
    const res = await p.request("POST", "/v1/jobs", small("tiny", { url }));
    assert.equal(res.status, 400, url);
    assert.equal(res.body.error.code, "webhook_url_refused", url);
  }
});

// Last: once a key exists, anonymous requests are refused.
test("a job submitted with an API key is signed with that key's own secret", async () => {
  const key = await p.createKey("jobs:write,jobs:read", "hooks");
  const res = await p.request("POST", "/v1/jobs", small("tiny", { url: receiver.url("/keyed") }, 30), { authorization: `Bearer ${key.key}` });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await receiver.waitFor("the keyed job's message", () => receiver.on("/keyed").length > 0);
  const r = receiver.on("/keyed")[0]!;
  assert.equal(verify(r, key.webhook_secret).data.id, res.body.id);
  assert.throws(() => verify(r, SECRET), /a valid v1 signature/, "not the server's secret");
});
