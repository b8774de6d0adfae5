import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, fileUrl } from "./api.js";

const html = htm.bind(h);
const STATUSES = ["queued", "running", "completed", "failed", "cancelled"];
const PAGE = 24;

/** The poster of a finished video, fetched with the key (an <img> cannot send it). */
function Poster({ job }) {
  const [url, setUrl] = useState(undefined);
  useEffect(() => {
    setUrl(undefined);
    if (!job.result?.poster_url) return;
    let made;
    fileUrl(job.result.poster_url).then((u) => { made = u; setUrl(u); }, () => setUrl(undefined));
    return () => made && URL.revokeObjectURL(made);
  }, [job.id, job.status]);
  if (url && job.result) return html`<img class="poster" src=${url} alt="" width=${job.result.width} height=${job.result.height} />`;
  return html`<div class=${`poster placeholder status-${job.status}`} aria-hidden="true">${job.status}</div>`;
}

export function HistoryView({ models, params }) {
  const model = params.get("model") ?? "";
  const status = params.get("status") ?? "";
  const [pages, setPages] = useState([]);
  const [next, setNext] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [loading, setLoading] = useState(false);

  const load = async (before) => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (model) q.set("model", model);
    if (status) q.set("status", status);
    if (before) q.set("before", before);
    setLoading(true);
    try {
      const page = await api(`/v1/jobs?${q}`);
      setPages((old) => (before ? [...old, ...page.jobs] : page.jobs));
      setNext(page.next_before);
      setError(undefined);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => { void load(undefined); }, [model, status]);

  const filter = (field) => (e) => {
    const q = new URLSearchParams(params);
    if (e.currentTarget.value) q.set(field, e.currentTarget.value);
    else q.delete(field);
    location.hash = `#/history?${q}`;
  };
  return html`<section class="panel history" aria-labelledby="history-title">
    <h1 id="history-title">History</h1>
    <form class="grid filters" onSubmit=${(e) => e.preventDefault()}>
      <div class="field"><label for="filter-model">Model</label>
        <select id="filter-model" value=${model} onChange=${filter("model")}>
          <option value="">All models</option>
          ${(models ?? []).map((m) => html`<option value=${m.name}>${m.display_name}</option>`)}
        </select></div>
      <div class="field"><label for="filter-status">Status</label>
        <select id="filter-status" value=${status} onChange=${filter("status")}>
          <option value="">Any status</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select></div>
    </form>
    ${error && html`<p class="error" role="alert">${error.message}</p>`}
    ${!error && !loading && pages.length === 0 && html`<p>No jobs yet. <a href="#/">Make one</a>.</p>`}
    <ul class="gallery" aria-label="Jobs, newest first">
      ${pages.map((j) => html`<li class="card" key=${j.id} data-job=${j.id}>
        <a href=${`#/jobs/${encodeURIComponent(j.id)}`}>
          <${Poster} job=${j} />
          <span class="prompt">${j.params.prompt}</span>
        </a>
        <span class="meta"><span class=${`status status-${j.status}`}>${j.status}</span> · ${j.model} · <time datetime=${j.created_at}>${new Date(j.created_at).toLocaleString()}</time></span>
        ${j.status === "failed" && j.error && html`<span class="error small">${j.error.message}</span>`}
      </li>`)}
    </ul>
    ${next && html`<div class="row"><button type="button" disabled=${loading} onClick=${() => load(next)}>Older jobs</button></div>`}
  </section>`;
}
