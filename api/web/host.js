import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api } from "./api.js";

const html = htm.bind(h);
const gb = (b) => `${(b / 1e9).toFixed(2)} GB`;
const REFRESH_MS = 5000;
const WAITS = ["waiting_for_memory", "waiting_for_gpu", "waiting_for_environment"];

const workerState = (w) => (w.environment ? `takes no jobs: ${w.environment.message}` : `${w.loaded ? "model loaded" : "model not loaded"}${w.busy ? ", running a job" : ", idle"}`);

/** One host apart: its memory budget and who holds it, the jobs waiting for its memory and why, its workers. */
function HostSection({ host, workers, memoryWaits }) {
  const budget = Math.max(...workers.map((w) => w.budget_bytes));
  const held = workers.reduce((s, w) => s + w.reserved_bytes, 0);
  const holders = workers.filter((w) => w.reserved_bytes > 0);
  const loaded = [...new Set(workers.filter((w) => w.loaded).map((w) => w.model))];
  const id = `host-${host.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return html`<section class="host-card" data-host=${host} aria-labelledby=${id}>
    <h2 id=${id}>${host}</h2>
    <p class="meta">${workers.length} worker${workers.length === 1 ? "" : "s"} alive · loaded: ${loaded.length ? loaded.join(", ") : "none"}</p>
    <h3>Memory</h3>
    <label for=${`${id}-mem`}>${gb(held)} of the ${gb(budget)} budget reserved</label>
    <meter id=${`${id}-mem`} min="0" max=${budget || 1} value=${held}>${gb(held)}</meter>
    ${holders.length === 0 ? html`<p class="holders">Nothing holds memory here.</p>` : html`<ul class="holders" aria-label=${`What holds ${host}'s memory`}>
      ${holders.map((w) => html`<li>${w.model} (worker ${w.pid}): ${gb(w.reserved_bytes)}${w.busy ? ", running a job" : ", idle"}</li>`)}</ul>`}
    <h3>Jobs waiting for its memory</h3>
    ${memoryWaits.length === 0 ? html`<p>None.</p>` : html`<ul class="memory-waits">${memoryWaits.map((j) => html`<li>
      <a href=${`#/jobs/${encodeURIComponent(j.id)}`}>${j.params.prompt}</a> (${j.model}): ${j.progress.memory.message}${" "}(needs ${gb(j.progress.memory.needed_bytes)}, ${gb(j.progress.memory.available_bytes)} available, ${gb(j.progress.memory.held_by_others_bytes)} held by others)</li>`)}</ul>`}
    <h3>Workers</h3>
    <table class="stack">
      <thead><tr><th scope="col">Worker</th><th scope="col">Model</th><th scope="col">State</th><th scope="col">Reserved</th></tr></thead>
      <tbody>${workers.map((w) => html`<tr><th scope="row">Worker ${w.pid}</th><td data-label="Model">${w.model}</td><td data-label="State">${workerState(w)}</td><td data-label="Reserved">${gb(w.reserved_bytes)}</td></tr>`)}</tbody>
    </table>
  </section>`;
}

/** The hosts as the public API shows them: readiness, models, and each host apart. */
export function HostView() {
  const [state, setState] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    let stop = false;
    const read = async () => {
      try {
        const [models, running, ready] = await Promise.all([
          api("/v1/models"),
          api("/v1/jobs?status=running&limit=50"),
          fetch("/readyz").then((r) => r.json()),
        ]);
        if (!stop) { setState({ models: models.models, running: running.jobs, ready }); setError(undefined); }
      } catch (err) {
        if (!stop) setError(err);
      }
    };
    void read();
    const timer = setInterval(read, REFRESH_MS);
    return () => { stop = true; clearInterval(timer); };
  }, []);
  if (error) return html`<p class="error" role="alert">${error.message}</p>`;
  if (!state) return html`<p aria-live="polite">Reading the hosts…</p>`;

  const workers = state.models.flatMap((m) => m.workers);
  const hosts = [...new Set(workers.map((w) => w.host))].sort();
  const waiting = state.running.filter((j) => WAITS.includes(j.progress.phase));
  const memoryWaits = (host) => waiting.filter((j) => j.progress.phase === "waiting_for_memory" && j.progress.memory?.host === host);
  const otherWaits = waiting.filter((j) => j.progress.phase !== "waiting_for_memory");
  return html`<section class="panel host" aria-labelledby="host-title">
    <h1 id="host-title">Hosts</h1>
    <p class=${state.ready.ready ? "ok" : "error"} role="status">${state.ready.ready ? `Ready: ${state.ready.workers} worker${state.ready.workers === 1 ? "" : "s"} alive` : `Not ready: ${state.ready.reasons.join("; ")}`}</p>
    <p><a href="/admin/queues">Queues (Bull Board)</a> · <a href="/docs">API docs</a></p>
    <h2>Models</h2>
    <table class="stack">
      <thead><tr><th scope="col">Model</th><th scope="col">State</th><th scope="col">Waiting jobs</th><th scope="col">Resident</th></tr></thead>
      <tbody>${state.models.map((m) => html`<tr>
        <th scope="row">${m.display_name} <code class="name">${m.name}</code></th>
        <td data-label="State">${!m.installed ? `not installed: ${m.reason}` : m.loaded ? `loaded on ${[...new Set(m.workers.filter((w) => w.loaded).map((w) => w.host))].join(", ")}` : m.workers.length ? "installed, not loaded" : "installed, no worker"}${m.environment ? ` — ${m.environment.message}` : ""}</td>
        <td data-label="Waiting jobs">${m.queue_depth}</td>
        <td data-label="Resident">${m.memory ? gb(m.memory.resident_bytes) : "—"}</td>
      </tr>`)}</tbody>
    </table>
    ${hosts.length === 0 && html`<p>No worker is alive, so no host reports its memory.</p>`}
    ${hosts.map((host) => html`<${HostSection} host=${host} workers=${workers.filter((w) => w.host === host)} memoryWaits=${memoryWaits(host)} />`)}
    <h2>Jobs waiting for the GPU or their environment</h2>
    ${otherWaits.length === 0 ? html`<p>None.</p>` : html`<ul>${otherWaits.map((j) => html`<li>
      <a href=${`#/jobs/${encodeURIComponent(j.id)}`}>${j.params.prompt}</a> (${j.model}): ${j.progress.environment?.message ?? "waiting for a GPU slot"}</li>`)}</ul>`}
  </section>`;
}
