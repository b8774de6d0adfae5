import { QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { createRedis, loadConfig, queueName, redisTargetOf } from "@videosdgx/shared";
import { TestSentinelSet, freePort, spawnNode, waitFor, type ManagedProcess } from "@videosdgx/shared/testing";
import { API_MAIN } from "../entry-points.js";
import { Platform } from "../e2e/platform.js";
import { percentile, round, type BenchRow } from "./stats.js";

const tinyJob = (seed: number) => ({ model: "tiny", prompt: `sentinel bench ${seed}`, width: 64, height: 64, num_frames: 5, steps: 1, seed });

async function submitMs(base: string, seed: number): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${base}/v1/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(tinyJob(seed)) });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`submission answered ${res.status}`);
  return performance.now() - t;
}

const row = (metric: string, unit: string, ours: number, base: number, baselineName: string): BenchRow => ({
  bench: "sentinel", metric, unit, platform: round(ours), baseline: round(base), baseline_name: baselineName,
  ratio: round(base / Math.max(ours, 0.01)), target: "(reported)", pass: true,
});

/**
 * What surviving the primary's loss costs, on a primary, a replica and three sentinels on this machine.
 * Submit-to-202 latency of an API that WAITs for one replica, and of one on a primary with
 * min-replicas-to-write 1, against an API that acknowledges on the primary's write: submitted in
 * alternating blocks in the same run. Then the time from a SIGKILL of the primary to the first job
 * completion heard after it (QueueEvents through Sentinel), against Sentinel's down-after-milliseconds.
 */
export async function sentinelBench(submissions: number, failovers: number): Promise<BenchRow[]> {
  let set!: TestSentinelSet;
  const p = await Platform.start({
    // The platform's own API is the baseline: it acknowledges on the primary's write (the default under Sentinel is 1).
    env: { LOG_LEVEL: "info", REDIS_MIN_REPLICAS_ACK: "0", RATE_LIMIT_PER_MINUTE: "0", MAX_QUEUED_PER_MODEL: "0", LOCK_DURATION_MS: "3000", STALLED_INTERVAL_MS: "1000" },
    redis: async (dir) => (set = await TestSentinelSet.start(dir, { downAfterMs: 1000, failoverTimeoutMs: 3000 })),
  });
  const target = redisTargetOf(loadConfig(set.env))!;
  const port = await freePort();
  const waitingApi: ManagedProcess = spawnNode("api-wait", API_MAIN, { ...p.env, PORT: String(port), REDIS_MIN_REPLICAS_ACK: "1", REDIS_WAIT_TIMEOUT_MS: "5000" });
  const waitingBase = `http://127.0.0.1:${port}`;
  const events = new QueueEvents(queueName("tiny"), { connection: createRedis(target, "worker", "bench-events"), prefix: p.env.QUEUE_PREFIX });
  events.on("error", () => undefined);
  try {
    await waitFor(`the WAITing API to be ready\n${waitingApi.output}`, () =>
      fetch(`${waitingBase}/readyz`).then(async (r) => ((await r.json()) as { redis: string }).redis === "ok", () => false), 20000);
    const samples = { plain: [] as number[], wait: [] as number[], minReplicas: [] as number[] };
    const block = 10;
    let seed = 0;
    for (let done = 0; done < submissions; done += block) {
      for (let i = 0; i < block; i++) samples.plain.push(await submitMs(p.base, seed++));
      for (let i = 0; i < block; i++) samples.wait.push(await submitMs(waitingBase, seed++));
      const primary = new Redis(`redis://127.0.0.1:${await set.primaryPort()}`);
      await primary.config("SET", "min-replicas-to-write", "1");
      for (let i = 0; i < block; i++) samples.minReplicas.push(await submitMs(p.base, seed++));
      await primary.config("SET", "min-replicas-to-write", "0");
      primary.disconnect();
    }
    const rows = [50, 99].flatMap((pct) => [
      row(`submit -> 202 p${pct}, WAIT 1 replica (${samples.wait.length})`, "ms", percentile(samples.wait, pct), percentile(samples.plain, pct), "acknowledged on the primary's write"),
      row(`submit -> 202 p${pct}, min-replicas-to-write 1 (${samples.minReplicas.length})`, "ms", percentile(samples.minReplicas, pct), percentile(samples.plain, pct), "acknowledged on the primary's write"),
    ]);

    // Jobs keep the worker busy through every failover.
    await p.startWorker("tiny");
    await events.waitUntilReady();
    let lastCompletion = 0;
    events.on("completed", () => (lastCompletion = Date.now()));
    const toCompletion: number[] = [];
    const toPromotion: number[] = [];
    for (let f = 0; f < failovers; f++) {
      await waitFor("jobs completing before the kill", () => lastCompletion > Date.now() - 2000, 60000);
      const killedAt = Date.now();
      const old = await set.killPrimary();
      await set.waitForFailover(old);
      toPromotion.push(Date.now() - killedAt);
      await waitFor("a job completion after the failover", () => lastCompletion > killedAt, 60000, 10);
      toCompletion.push(lastCompletion - killedAt);
      await set.restartAsReplica(old);
    }
    const median = (xs: number[]) => percentile(xs, 50);
    rows.push(
      row(`SIGKILL of primary -> first job completed, median of ${failovers}`, "ms", median(toCompletion), set.downAfterMs, "Sentinel down-after-milliseconds"),
      row(`SIGKILL of primary -> sentinels name the new one, median of ${failovers}`, "ms", median(toPromotion), set.downAfterMs, "Sentinel down-after-milliseconds"),
    );
    return rows;
  } finally {
    await events.close().catch(() => undefined);
    await waitingApi.stop();
    await p.stop();
  }
}
