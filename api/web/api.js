// The public API as the page uses it: the key (kept in this browser only), JSON calls, files and job events.

const KEY_ITEM = "videosdgx.api_key";

export const apiKey = {
  get: () => localStorage.getItem(KEY_ITEM) ?? "",
  set: (key) => (key ? localStorage.setItem(KEY_ITEM, key) : localStorage.removeItem(KEY_ITEM)),
};

export class ApiError extends Error {
  /** `retryAfterMs`: when a passing refusal (429, 5xx) says to ask again, from its Retry-After. */
  constructor(status, code, message, details, retryAfterMs) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Listeners told when the API asks for a key (401) or refuses the one given (403). */
const authListeners = new Set();
export const onAuthProblem = (fn) => {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
};

function headers(extra = {}) {
  const key = apiKey.get();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function failure(res) {
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const e = body?.error;
  const err = new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `the API answered ${res.status} ${res.statusText}`, e?.details,
    isPassing(res.status) ? retryAfterMs(res) : undefined);
  if (res.status === 401 || res.status === 403) for (const fn of authListeners) fn(err);
  return err;
}

/** A JSON call; a non-2xx answer throws an ApiError carrying the API's own code and message. */
export async function api(path, { method = "GET", body, idempotencyKey } = {}) {
  const extra = body === undefined ? {} : { "Content-Type": "application/json" };
  if (idempotencyKey) extra["Idempotency-Key"] = idempotencyKey;
  const res = await fetch(path, { method, headers: headers(extra), body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw await failure(res);
  return res.json();
}

/**
 * A job's file (video, poster) as a blob: URL, fetched with the key: a <video> or <img> cannot send an
 * Authorization header itself. The caller revokes it when done.
 */
export async function fileUrl(path) {
  const res = await fetch(path, { headers: headers() });
  if (!res.ok) throw await failure(res);
  return URL.createObjectURL(await res.blob());
}

/** Parses one Server-Sent Events block ("id:", "event:", "data:" lines). */
function parseEvent(block) {
  const event = { id: undefined, type: "message", data: "" };
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") event.id = value;
    else if (field === "event") event.type = value;
    else if (field === "data") event.data += (event.data ? "\n" : "") + value;
  }
  return event;
}

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
/** The wait before reopening a stream that ended or broke, doubled on each failed try up to the cap. */
const RECONNECT_MS = 1000;
const RECONNECT_MAX_MS = 15000;
/** A Retry-After longer than this is not waited out in full: the job page should not look dead for minutes. */
const RETRY_AFTER_MAX_MS = 60000;

/** Answers worth asking again: the API not ready or overloaded (5xx, e.g. 503 while Redis is away) or limiting (429). */
const isPassing = (status) => status >= 500 || status === 429;

/** Retry-After in ms (seconds or an HTTP date), undefined when absent or unreadable. */
function retryAfterMs(res) {
  const value = res.headers.get("Retry-After");
  if (!value) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), RETRY_AFTER_MAX_MS) : undefined;
}

/**
 * Follows a job's event stream (GET /v1/jobs/:id/events) until the job ends, reconnecting with
 * Last-Event-ID as EventSource does; read with fetch because EventSource cannot send the key. A broken
 * stream, an unreachable API or a passing refusal (5xx, 429: after its Retry-After) is tried again with a
 * capped backoff; any other refusal (401, 403, 404, 400) is final and goes to `onError`.
 * `onJob(job, eventType)` gets the job resource of every event. `onConnection(lost)` is told when a try
 * fails, `lost` being `{ status, retryInMs }` (status undefined: no answer, or the stream broke off), and
 * with `undefined` once a stream is open again. Returns a function that stops it.
 */
export function followJob(id, onJob, onError, onConnection = () => {}) {
  const controller = new AbortController();
  let lastId;
  let ended = false;
  let failures = 0; // tries in a row that got no stream
  const run = async () => {
    while (!ended && !controller.signal.aborted) {
      let wait;
      let failed = false;
      let status;
      try {
        const extra = { Accept: "text/event-stream" };
        if (lastId) extra["Last-Event-ID"] = lastId;
        const res = await fetch(`/v1/jobs/${encodeURIComponent(id)}/events`, { headers: headers(extra), signal: controller.signal });
        if (!res.ok) {
          const err = await failure(res);
          if (!isPassing(res.status)) {
            onError(err);
            return;
          }
          wait = retryAfterMs(res);
          status = res.status;
          failed = true;
        } else {
          // A graceful end of a stream is not a lost connection: only a failed try is shown.
          if (failures > 0) onConnection(undefined);
          failures = 0;
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value.replace(/\r\n?/g, "\n");
            let cut;
            while ((cut = buffer.indexOf("\n\n")) >= 0) {
              const event = parseEvent(buffer.slice(0, cut));
              buffer = buffer.slice(cut + 2);
              if (!event.data) continue;
              if (event.id) lastId = event.id;
              const job = JSON.parse(event.data);
              onJob(job, event.type);
              if (TERMINAL.has(job.status) && event.type !== "position") ended = true;
            }
          }
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        failed = true; // unreachable (a restart), or the stream broke off
      }
      if (ended) return;
      if (failed) failures += 1;
      const retryInMs = wait ?? Math.min(RECONNECT_MS * 2 ** Math.max(0, failures - 1), RECONNECT_MAX_MS);
      if (failed) onConnection({ status, retryInMs });
      await new Promise((r) => setTimeout(r, retryInMs));
    }
  };
  void run();
  return () => controller.abort();
}
