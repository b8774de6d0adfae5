import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api } from "./api.js";

const html = htm.bind(h);
const gb = (b) => `${(b / 1e9).toFixed(2)} GB`;
const REFRESH_MS = 5000;

/** The host as the public API shows it: models loaded, memory budget and holders, waiting jobs, workers. */
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
  if (!state) return html`<p aria-live="polite">Reading the host…</p>`;

  const workers = state.models.flatMap((m) => m.workers);
  const hosts = [...new Set(workers.map((w) => w.host))];
  const waiting = state.running.filter((j) => ["waiting_for_memory", "waiting_for_gpu", "waiting_for_environment"].includes(j.progress.phase));
  return html`<section class="panel host" aria-labelledby="host-title">
    <h1 id="host-title">Host</h1>
    <p class=${state.ready.ready ? "ok" : "error"} role="status">${state.ready.ready ? `Ready: ${state.ready.workers} worker${state.ready.workers === 1 ? "" : "s"} alive` : `Not ready: ${state.ready.reasons.join("; ")}`}</p>
    <p><a href="/admin/queues">Queues (Bull Board)</a> · <a href="/docs">API docs</a></p>
    <h2>Models</h2>
    <table>
      <thead><tr><th scope="col">Model</th><th scope="col">State</th><th scope="col">Waiting jobs</th><th scope="col">Resident</th></tr></thead>
      <tbody>${state.models.map((m) => html`<tr>
        <th scope="row">${m.display_name}</th>
        <td>${!m.installed ? `not installed: ${m.reason}` : m.loaded ? "loaded" : m.workers.length ? "installed, not loaded" : "installed, no worker"}${m.environment ? ` — ${m.environment.message}` : ""}</td>
        <td>${m.queue_depth}</td>
        <td>${m.memory ? gb(m.memory.resident_bytes) : "—"}</td>
      </tr>`)}</tbody>
    </table>
    <h2>Memory</h2>
    ${hosts.length === 0 && html`<p>No worker is alive, so no host reports its memory.</p>`}
    ${hosts.map((host) => {
      const mine = workers.filter((w) => w.host === host);
      const budget = Math.max(...mine.map((w) => w.budget_bytes));
      const held = mine.reduce((s, w) => s + w.reserved_bytes, 0);
      return html`<div class="memory">
        <h3>${host}</h3>
        <label for=${`mem-${host}`}>${gb(held)} of ${gb(budget)} reserved</label>
        <meter id=${`mem-${host}`} min="0" max=${budget || 1} value=${held}>${gb(held)}</meter>
        <ul>${mine.filter((w) => w.reserved_bytes > 0).map((w) => html`<li>${w.model} (worker ${w.pid}): ${gb(w.reserved_bytes)}${w.busy ? ", busy" : ""}</li>`)}</ul>
      </div>`;
    })}
    <h2>Jobs waiting</h2>
    ${waiting.length === 0 ? html`<p>No job is waiting for memory, the GPU or its environment.</p>` : html`<ul>${waiting.map((j) => html`<li>
      <a href=${`#/jobs/${encodeURIComponent(j.id)}`}>${j.params.prompt}</a> (${j.model}): ${j.progress.memory?.message ?? j.progress.environment?.message ?? "waiting for the GPU"}</li>`)}</ul>`}
    <h2>Workers</h2>
    <table>
      <thead><tr><th scope="col">Worker</th><th scope="col">Model</th><th scope="col">Host</th><th scope="col">State</th></tr></thead>
      <tbody>${workers.map((w) => html`<tr><th scope="row">${w.pid}</th><td>${w.model}</td><td>${w.host}</td>
        <td>${w.environment ? w.environment.message : `${w.loaded ? "loaded" : "idle"}${w.busy ? ", busy" : ""}`}</td></tr>`)}</tbody>
    </table>
  </section>`;
}
