import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";
import { api, fileUrl, followJob } from "./api.js";

const html = htm.bind(h);

const PHASES = {
  queued: "Queued",
  waiting_for_environment: "Waiting: the host cannot run jobs now",
  waiting_for_gpu: "Waiting for the GPU",
  waiting_for_memory: "Waiting for memory",
  loading: "Loading the model",
  encoding_text: "Encoding the prompt",
  encoding_image: "Encoding the image",
  denoising: "Denoising",
  decoding: "Decoding frames",
  encoding_video: "Encoding the video",
  done: "Done",
};
const gb = (b) => `${(b / 1e9).toFixed(2)} GB`;
const seconds = (ms) => (ms === undefined ? "—" : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

/** Time left from the worker's own mean step time (progress.step_ms), as shared's timeLeftMs: undefined until it has one. */
const timeLeftMs = (p) => (p.phase === "denoising" && p.step_ms !== undefined ? Math.max(0, p.total - p.step) * p.step_ms : undefined);

/** While the event stream is down and being tried again: what the page waits for, announced. */
function Connection({ lost }) {
  return html`<div role="status" aria-live="polite" class="connection">${lost && html`<p class="wait reconnecting">${lost.status === 429
    ? `The API asks us to wait ${Math.ceil(lost.retryInMs / 1000)} s — reconnecting…`
    : "Connection lost — reconnecting…"}</p>`}</div>`;
}

/** The live part of a running job: everything its events say until it ends (the one place for a preview image). */
function Progress({ job }) {
  const p = job.progress;
  const eta = timeLeftMs(p);
  const denoising = p.phase === "denoising" || p.phase === "decoding" || p.phase === "encoding_video";
  return html`<section class="progress" aria-labelledby="progress-title">
    <h2 id="progress-title">Progress</h2>
    <p aria-live="polite" class="phase" data-phase=${p.phase}>
      ${job.status === "queued" && job.queue_position !== undefined
        ? html`Queued: <strong>${job.queue_position === 0 ? "next in line" : `${job.queue_position} job${job.queue_position > 1 ? "s" : ""} ahead`}</strong>`
        : html`${PHASES[p.phase] ?? p.phase}${denoising ? html` — step <strong>${p.step}</strong> of ${p.total}` : ""}`}
      ${eta !== undefined && html` · about <span class="eta" data-step-ms=${p.step_ms}>${Math.ceil(eta / 1000)} s</span> left`}
    </p>
    <label class="sr-only" for="job-progress">Steps done</label>
    <progress id="job-progress" max=${p.total || 1} value=${p.step}>${p.step} of ${p.total}</progress>
    ${p.chunks_total !== undefined && html`<p class="chunks">Chunks ready: <strong>${p.chunks_done ?? 0}</strong> of ${p.chunks_total}${p.frames_ready ? ` (${p.frames_ready} frames)` : ""}</p>`}
    ${p.phase === "waiting_for_memory" && p.memory && html`<p class="wait">${p.memory.message}
      (needs ${gb(p.memory.needed_bytes)}, available ${gb(p.memory.available_bytes)}, held by others ${gb(p.memory.held_by_others_bytes)} of ${gb(p.memory.budget_bytes)} on host ${p.memory.host})</p>`}
    ${p.phase === "waiting_for_environment" && p.environment && html`<p class="wait">${p.environment.message} (${p.environment.code})</p>`}
    ${job.last_error && html`<p class="wait">An earlier attempt ended: ${job.last_error.message}</p>`}
  </section>`;
}

/**
 * A job's file as a blob: URL with the version it was fetched for, fetched again each time `version`
 * changes (undefined: none yet). A fetch that fails leaves the last one shown; an answer older than the
 * one shown is dropped; the shown blob is freed once the next is in place, or when the component goes.
 * What the page says of the file comes from the version shown, not the newest announced: the two differ
 * while a download is on its way.
 */
function useLatestFile(path, version) {
  const [shown, setShown] = useState(undefined);
  // The version shown (or on its way to be); Infinity once the component is gone.
  const newest = useRef(-Infinity);
  useEffect(() => {
    if (version === undefined) return;
    // A newer version's fetch does not cancel this one: chunks arriving faster than their downloads
    // still show the video growing, and only an answer older than the one shown is dropped.
    fileUrl(path).then((url) => {
      if (version <= newest.current) return URL.revokeObjectURL(url);
      newest.current = version;
      setShown({ url, version });
    }, () => {});
  }, [path, version]);
  // Freed after the render that replaced it, so an element never points at a revoked URL.
  useEffect(() => (shown ? () => URL.revokeObjectURL(shown.url) : undefined), [shown]);
  useEffect(() => () => {
    newest.current = Infinity;
  }, []);
  return shown;
}

/** The latest preview of a running job (announced by `preview` events), fetched with the key as each new one comes. */
function Preview({ job }) {
  const preview = job.progress.preview;
  const shown = useLatestFile(preview?.url, preview?.step);
  if (!preview || !shown) return null;
  return html`<figure class="preview"><img id="job-preview" src=${shown.url} data-step=${shown.version}
      alt=${`Preview of the video being made, at step ${shown.version} of ${job.progress.total}`} /></figure>`;
}

/**
 * A streaming (chunk-wise) job's video so far: GET /v1/jobs/:id/video serves the growing MP4's playable
 * part while the job runs, fetched again as each chunk arrives.
 */
function ChunkVideo({ job }) {
  const shown = useLatestFile(job.links.video, job.progress.chunks_done || undefined);
  if (!shown) return null;
  return html`<figure class="chunk-video"><video id="chunk-video" src=${shown.url} controls muted playsinline preload="auto" data-chunks=${shown.version}
      aria-label=${`The video so far: ${shown.version} of ${job.progress.chunks_total} chunks of: ${job.params.prompt}`}></video></figure>`;
}

function Timings({ t }) {
  const rows = [["Waited for GPU", t.wait_for_gpu_ms], ["Waited for memory", t.wait_for_memory_ms], ["Model load", t.load_ms], ["Prompt", t.encode_text_ms],
    ["Denoising", t.denoise_ms], ["Decoding", t.decode_ms], ["Video encoding", t.encode_video_ms], ["Total", t.total_ms]].filter(([, v]) => v !== undefined);
  return html`<dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${seconds(v)}</dd>`)}</dl>`;
}

function Result({ job }) {
  const [url, setUrl] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    let made;
    fileUrl(job.result.video_url).then((u) => { made = u; setUrl(u); }, setError);
    return () => made && URL.revokeObjectURL(made);
  }, [job.id]);
  const r = job.result;
  return html`<section aria-labelledby="result-title">
    <h2 id="result-title">Video</h2>
    ${error && html`<p class="error" role="alert">${error.message}</p>`}
    ${url ? html`<video id="result-video" src=${url} controls loop playsinline preload="auto" width=${r.width} height=${r.height}
        aria-label=${`The video of: ${job.params.prompt}`}></video>` : !error && html`<p>Loading the video…</p>`}
    <dl class="facts">
      <dt>Size</dt><dd>${r.width}×${r.height}</dd><dt>Frames</dt><dd>${r.num_frames}</dd><dt>FPS</dt><dd>${r.fps}</dd>
      <dt>Duration</dt><dd>${r.duration_s.toFixed(2)} s</dd><dt>Seed</dt><dd>${job.params.seed}</dd><dt>File</dt><dd>${(r.bytes / 1024).toFixed(0)} KiB</dd>
    </dl>
    <div class="row">
      ${url && html`<a class="button" href=${url} download=${`${job.id}.mp4`}>Download MP4</a>`}
      <a class="button secondary" href=${`#/make?from=${encodeURIComponent(job.id)}&seed=same`}>Make another like this (same seed)</a>
      <a class="button secondary" href=${`#/make?from=${encodeURIComponent(job.id)}&seed=new`}>Make another like this (new seed)</a>
    </div>
  </section>`;
}

export function JobView({ id }) {
  const [job, setJob] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [actionError, setActionError] = useState(undefined);
  const [lost, setLost] = useState(undefined); // the event stream's failed try, while it is tried again
  const [following, setFollowing] = useState(0); // bumped to follow the stream again (after a retry)
  useEffect(() => {
    setLost(undefined);
    return followJob(id, (j) => setJob(j), setError, setLost);
  }, [id, following]);

  const act = async (method, path) => {
    setActionError(undefined);
    try {
      setJob(await api(path, { method }));
      setFollowing((n) => n + 1);
    } catch (err) {
      setActionError(err);
    }
  };
  if (error) return html`<p class="error" role="alert">${error.message}</p>`;
  if (!job) return html`<p aria-live="polite">Loading job ${id}…</p><${Connection} lost=${lost} />`;
  const p = job.params;
  const live = job.status === "queued" || job.status === "running";
  return html`<article class="panel job" aria-labelledby="job-title" data-status=${job.status}>
    <h1 id="job-title">${p.prompt}</h1>
    <p class="meta"><span class=${`status status-${job.status}`}>${job.status}</span> · ${job.model} · ${new Date(job.created_at).toLocaleString()} · <code>${job.id}</code></p>
    <${Connection} lost=${lost} />
    ${live && html`<${Progress} job=${job} />`}
    ${live && html`<${Preview} job=${job} />`}
    ${job.status === "running" && job.progress.chunks_total !== undefined && html`<${ChunkVideo} job=${job} />`}
    ${live && html`<div class="row"><button type="button" class="danger" onClick=${() => act("DELETE", `/v1/jobs/${encodeURIComponent(id)}`)}>Cancel</button></div>`}
    ${job.status === "completed" && job.result && html`<${Result} job=${job} />`}
    ${(job.status === "failed" || job.status === "cancelled") && html`<section aria-labelledby="error-title">
      <h2 id="error-title">${job.status === "failed" ? "Failed" : "Cancelled"}</h2>
      <p class="error" role="alert">${job.error?.message}${job.error?.code ? ` (${job.error.code})` : ""}</p>
      <div class="row">
        <button type="button" onClick=${() => act("POST", `/v1/jobs/${encodeURIComponent(id)}/retry`)}>Retry</button>
        <a class="button secondary" href=${`#/make?from=${encodeURIComponent(job.id)}&seed=same`}>Edit and submit again</a>
      </div>
    </section>`}
    ${actionError && html`<p class="error" role="alert">${actionError.message}</p>`}
    <section aria-labelledby="params-title">
      <h2 id="params-title">Parameters</h2>
      <dl class="facts">
        <dt>Model</dt><dd>${p.model}</dd><dt>Size</dt><dd>${p.width}×${p.height}</dd><dt>Frames</dt><dd>${p.num_frames} at ${p.fps} fps</dd>
        <dt>Steps</dt><dd>${p.steps}</dd><dt>Guidance</dt><dd>${p.guidance}</dd><dt>Seed</dt><dd>${p.seed}</dd>
        ${p.negative_prompt && html`<dt>Negative prompt</dt><dd>${p.negative_prompt}</dd>`}
      </dl>
      <h2>Timings</h2>
      <${Timings} t=${job.timings} />
    </section>
  </article>`;
}
