import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { waitFor } from "@videosdgx/shared/testing";
import { lookUp, parseExposition, type MetricFamily } from "../monitoring/exposition.js";
import { dashboardQueries, prometheusConfig } from "../monitoring/files.js";
import { aggregationsOf, metricNamesOf } from "../monitoring/promql-metrics.js";
import { Platform } from "./platform.js";
import { WebhookReceiver } from "./webhook-receiver.js";

/*
 * The Grafana dashboard against the real platform: every metric its queries name is one the API's
 * /metrics really exposes, with series, once a tiny job (with a webhook) has run.
 */

/** Series that exist only while a job waits for memory, which this test does not make: declared is enough. */
const ONLY_WHILE_WAITING = new Set(["vdgx_memory_wait_bytes"]);

let p: Platform;
let receiver: WebhookReceiver;
before(async () => {
  p = await Platform.start({ env: { WEBHOOK_SECRET: `whsec_${randomBytes(32).toString("base64")}`, WEBHOOK_ALLOW_HOSTS: "127.0.0.1" } });
  receiver = await WebhookReceiver.start();
  await p.startWorker("tiny");
  await p.startWebhooks();
});
after(async () => {
  await receiver?.close();
  await p?.stop();
});

async function scrape(): Promise<Map<string, MetricFamily>> {
  const res = await p.request("GET", prometheusConfig().scrape_configs[0]!.metrics_path ?? "/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parseExposition(res.body as string);
}

test("every metric the dashboard queries is exposed by /metrics, with series after a job", async () => {
  const body = { model: "tiny", prompt: "a dashboard", width: 64, height: 64, num_frames: 5, steps: 3, seed: 1, webhook: { url: receiver.url("/hook") } };
  const submitted = await p.request("POST", "/v1/jobs", body);
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  assert.equal((await p.waitForTerminal(submitted.body.id)).status, "completed");
  await receiver.waitFor("the completed webhook", () => receiver.on("/hook").length > 0);
  // The delivery is counted once its attempt is logged, just after the receiver answered.
  await waitFor("the delivery in /metrics", async () => lookUp(await scrape(), "vdgx_webhook_deliveries_total")?.hasSamples || undefined, 20000);

  const families = await scrape();
  const queries = dashboardQueries();
  assert.ok(queries.length >= 20, `the dashboard has its panels: ${queries.length} queries`);
  const problems: string[] = [];
  const used = new Set<string>();
  for (const { where, expr } of queries) {
    const names = metricNamesOf(expr);
    if (names.length === 0) problems.push(`${where}: ${expr} selects no metric`);
    for (const name of names) {
      used.add(name);
      const found = lookUp(families, name);
      if (!found) problems.push(`${where}: ${name} is not exposed`);
      else if (!found.hasSamples && !ONLY_WHILE_WAITING.has(found.family)) problems.push(`${where}: ${name} (${found.type}) has no series`);
    }
  }
  assert.deepEqual(problems, []);
  // Each host has its own memory budget, ledger and workers: no panel folds a metric labelled by host into one line.
  const byHost = [...families].filter(([, f]) => f.labels.has("host")).map(([name]) => name);
  assert.ok(byHost.includes("vdgx_jobs_waiting_for_memory") && byHost.includes("vdgx_workers_alive"), `metrics labelled by host: ${byHost.join(", ")}`);
  const folded = queries.flatMap(({ where, expr }) =>
    aggregationsOf(expr).filter((a) => a.metrics.some((m) => byHost.includes(lookUp(families, m)!.family)) && !a.keeps("host")).map((a) => `${where}: ${a.text}`));
  assert.deepEqual(folded, []);
  // The panels the issue asks for, each by the metric that shows it.
  for (const name of [
    "vdgx_jobs_finished_total", "vdgx_jobs", "vdgx_job_queue_wait_seconds_bucket", "vdgx_job_phase_seconds_bucket", "vdgx_job_step_seconds_bucket",
    "vdgx_model_loads_total", "vdgx_model_loaded", "vdgx_memory_budget_bytes", "vdgx_memory_reserved_bytes", "vdgx_webhook_deliveries_total",
    "vdgx_http_request_duration_seconds_bucket",
  ]) assert.ok(used.has(name), `the dashboard queries ${name}`);
});

test("the values behind the panels are the job's: step time, queue wait, worker, memory, webhook, latency", async () => {
  const text = (await p.request("GET", "/metrics")).body as string;
  const value = (re: RegExp) => Number(re.exec(text)?.[1]);
  assert.equal(value(/^vdgx_job_step_seconds_count\{model="tiny"\} (\d+)$/m), 1);
  assert.equal(value(/^vdgx_job_queue_wait_seconds_count\{model="tiny"\} (\d+)$/m), 1);
  const host = /^vdgx_workers_alive\{host="([^"]+)",model="tiny"\} 1$/m.exec(text)?.[1];
  assert.ok(host, "one live tiny worker, on its host");
  // Nothing waits for memory: the worker's host shows 0, and no wait's bytes.
  assert.ok(text.split("\n").includes(`vdgx_jobs_waiting_for_memory{host="${host}",model="tiny"} 0`), text);
  assert.doesNotMatch(text, /^vdgx_memory_wait_bytes\{/m);
  assert.equal(value(/^vdgx_model_loaded\{host="[^"]+",model="tiny"\} (\d+)$/m), 1, "tiny stays resident after its job");
  const reserved = value(/^vdgx_memory_reserved_bytes\{host="[^"]+",model="tiny"\} (\d+)$/m);
  const budget = value(/^vdgx_memory_budget_bytes\{host="[^"]+"\} (\d+)$/m);
  assert.ok(reserved > 0 && reserved <= budget, `reserved ${reserved} of ${budget}`);
  assert.equal(value(/^vdgx_webhook_deliveries_total\{outcome="delivered"\} (\d+)$/m), 1);
  assert.equal(value(/^vdgx_webhook_messages\{state="completed"\} (\d+)$/m), 1);
  // Requests are labelled by their documented route, ids and all, not by their URL.
  assert.ok(value(/^vdgx_http_request_duration_seconds_count\{method="GET",route="\/v1\/jobs\/:id",status="200"\} (\d+)$/m) >= 1);
  assert.doesNotMatch(text, /route="\/v1\/jobs\/tiny-/);
});

test("Prometheus's scrape path is the API's metrics route", async () => {
  const [job, ...others] = prometheusConfig().scrape_configs;
  assert.deepEqual(others, [], "one target: every process's metrics are on the API's /metrics");
  const spec = (await p.request("GET", "/openapi.json")).body;
  const route = spec.paths[job!.metrics_path!]?.get;
  assert.ok(route, `${job!.metrics_path} is a route of the API`);
  assert.deepEqual(Object.keys(route.responses["200"].content), ["text/plain"]);
  assert.equal(job!.authorization?.type, "Bearer", "sent with a key, as /metrics needs admin once keys exist");
});
