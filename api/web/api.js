// The public API as the page uses it: the key (kept in this browser only), JSON calls, files and job events.

const KEY_ITEM = "videosdgx.api_key";

export const apiKey = {
  get: () => localStorage.getItem(KEY_ITEM) ?? "",
  set: (key) => (key ? localStorage.setItem(KEY_ITEM, key) : localStorage.removeItem(KEY_ITEM)),
};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
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
  const err = new ApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `the API answered ${res.status} ${res.statusText}`, e?.details);
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
const RECONNECT_MS = 1000;

/**
 * Follows a job's event stream (GET /v1/jobs/:id/events) until the job ends, reconnecting with
 * Last-Event-ID as EventSource does; read with fetch because EventSource cannot send the key.
 * `onJob(job, eventType)` gets the job resource of every event. Returns a function that stops it.
 */
export function followJob(id, onJob, onError) {
  const controller = new AbortController();
  let lastId;
  let ended = false;
  const run = async () => {
    while (!ended && !controller.signal.aborted) {
      try {
        const extra = { Accept: "text/event-stream" };
        if (lastId) extra["Last-Event-ID"] = lastId;
        const res = await fetch(`/v1/jobs/${encodeURIComponent(id)}/events`, { headers: headers(extra), signal: controller.signal });
        if (!res.ok) {
          onError(await failure(res));
          return;
        }
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
      } catch (err) {
        if (controller.signal.aborted) return;
      }
      if (!ended) await new Promise((r) => setTimeout(r, RECONNECT_MS));
    }
  };
  void run();
  return () => controller.abort();
}
