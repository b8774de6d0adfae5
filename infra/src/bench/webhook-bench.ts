import { QueueEvents } from "bullmq";
import { createRedis, newWebhookSecret, queueName } from "@videosdgx/shared";
import { Platform } from "../e2e/platform.js";
import { WebhookReceiver } from "../e2e/webhook-receiver.js";
import { percentile, round, type BenchRow } from "./stats.js";

/**
 * Webhook delivery latency: from a job's end (BullMQ's finishedOn, written by the worker) to the
 * receiver's arrival of the signed `job.completed` message, through the events stream, the dispatcher,
 * the outbox queue and an HTTP POST. Baseline: a raw BullMQ QueueEvents listener on the same Redis, the
 * fastest anything can learn that a job ended.
 */
export async function webhookBench(jobs: number): Promise<BenchRow[]> {
  const p = await Platform.start({ env: { LOG_LEVEL: "info", WEBHOOK_SECRET: newWebhookSecret(), WEBHOOK_ALLOW_HOSTS: "127.0.0.1" } });
  const receiver = await WebhookReceiver.start();
  const events = new QueueEvents(queueName("tiny"), { connection: createRedis(p.redis.url, "worker"), prefix: p.env.QUEUE_PREFIX });
  try {
    await p.startWorker("tiny");
    await p.startWebhooks();
    await events.waitUntilReady();
    const heardAt = new Map<string, number>();
    events.on("completed", ({ jobId }) => heardAt.set(jobId, Date.now()));
    const ids: string[] = [];
    for (let i = 0; i < jobs; i++) {
      const body = { model: "tiny", prompt: `webhook bench ${i}`, width: 64, height: 64, num_frames: 5, steps: 1, seed: i, webhook: { url: receiver.url("/bench") } };
      ids.push((await p.request("POST", "/v1/jobs", body)).body.id);
    }
    await receiver.waitFor("every completed message", () => receiver.received.length >= jobs, 300000);
    const arrivedAt = new Map(receiver.received.map((r) => [JSON.parse(r.body).data.id as string, r.at]));
    const webhook: number[] = [];
    const raw: number[] = [];
    for (const id of ids) {
      const finishedOn = Date.parse((await p.request("GET", `/v1/jobs/${id}`)).body.finished_at);
      webhook.push(arrivedAt.get(id)! - finishedOn);
      raw.push(heardAt.get(id)! - finishedOn);
    }
    const row = (metric: string, pct: number): BenchRow => {
      const [ours, base] = [percentile(webhook, pct), percentile(raw, pct)];
      return {
        bench: "webhooks", metric, unit: "ms", platform: round(ours), baseline: round(base),
        baseline_name: "raw BullMQ QueueEvents 'completed' listener", ratio: round(base / Math.max(ours, 0.01)), target: "(reported)", pass: true,
      };
    };
    return [row(`job end -> receiver p50 (${jobs} jobs)`, 50), row(`job end -> receiver p99 (${jobs} jobs)`, 99)];
  } finally {
    await events.close();
    await receiver.close();
    await p.stop();
  }
}
