import http from "node:http";
import https from "node:https";
import type { DeliveryAttempt, WebhookDestinationPolicy } from "@videosdgx/shared";
import { signWebhook } from "@videosdgx/shared";

export interface WebhookPost {
  url: string;
  messageId: string;
  body: string;
  secrets: readonly string[];
}

/** What one attempt came to: a status code, or the network error that stopped it. */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;
// Receivers are chosen by clients: idle connections are closed after a while and only a few kept per host.
const agentOptions = { keepAlive: true, timeout: 30000, maxFreeSockets: 4 };
const agents = { "http:": new http.Agent(agentOptions), "https:": new https.Agent(agentOptions) };

/**
 * POSTs one signed message (Standard Webhooks headers) and reads the answer. Only 2xx is success;
 * redirects are not followed. The destination is checked again here, inside the connection's own DNS
 * lookup, so a name that now resolves to a private address is refused.
 */
export function postWebhook(msg: WebhookPost, destinations: WebhookDestinationPolicy, timeoutMs: number): Promise<DeliveryAttempt> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let url: URL;
  try {
    url = new URL(msg.url);
    destinations.checkUrl(url);
  } catch (err) {
    return Promise.resolve({ ok: false, error: (err as Error).message, durationMs: 0 });
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    const req = client.request(
      url,
      {
        method: "POST",
        agent: agents[url.protocol as "http:" | "https:"],
        lookup: destinations.guardedLookup(),
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(msg.body),
          "user-agent": "VideosDGX-Webhooks/1",
          "webhook-id": msg.messageId,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signWebhook(msg.secrets, msg.messageId, timestamp, msg.body),
        },
      },
      (res) => {
        res.resume(); // the body is not used; reading it lets the connection be reused
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          resolve({
            ok: status >= 200 && status < 300,
            statusCode: status,
            ...(status >= 300 && status < 400 ? { error: "redirects are not followed" } : {}),
            ...retryAfter(res.headers["retry-after"]),
            durationMs: elapsed(),
          });
        });
        res.on("error", (err) => resolve({ ok: false, statusCode: res.statusCode, error: err.message, durationMs: elapsed() }));
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) => {
      const error = err.name === "AbortError" || err.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : err.message;
      resolve({ ok: false, error, durationMs: elapsed() });
    });
    req.end(msg.body);
  });
}

/** Retry-After as seconds or an HTTP date. */
function retryAfter(header: string | undefined): { retryAfterMs?: number } {
  if (!header) return {};
  const ms = /^\d+$/.test(header.trim()) ? Number(header) * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? { retryAfterMs: Math.min(ms, MAX_RETRY_AFTER_MS) } : {};
}
