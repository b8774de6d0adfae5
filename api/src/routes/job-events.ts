import type { Request, Response } from "express";
import { ALL_JOBS, ErrorBodySchema, ValidationError, asOfEvent, clientEventOf, isAfterStreamId as isAfter, isResumableStreamId, type JobResource } from "@videosdgx/shared";
import type { AppContext } from "../context.js";
import type { ApiRouter } from "../http/api-router.js";
import { jobScopeOf } from "../http/auth.js";
import type { QueueEvent } from "../services/queue-events-hub.js";

const TERMINAL_STATUSES = new Set(["completed", "failed", "cancelled"]);
const TERMINAL_EVENTS = new Set(["completed", "failed", "cancelled"]);

/** Where a reconnecting client resumes: the id of the last event it got, which must be one of ours. */
function resumePoint(req: Request): string | undefined {
  const id = req.get("last-event-id");
  if (id === undefined || id === "") return undefined;
  if (!isResumableStreamId(id)) {
    throw new ValidationError(
      `Last-Event-ID ${JSON.stringify(id.slice(0, 100))} is not an event id of this stream (ids look like 1718000000000-0; send the id of the last event received, or none)`,
      [{ field: "Last-Event-ID", message: "not an event id of this stream" }],
    );
  }
  return id;
}

/**
 * One listener: the job's events in stream order, each with the job resource as it is when sent. Events
 * arriving while the start (state or replay) is being sent wait in a buffer, so nothing is lost or repeated.
 */
export async function streamJob(ctx: AppContext, req: Request, res: Response): Promise<void> {
  const id = String(req.params.id);
  // A bad Last-Event-ID is a JSON 400, a missing job (or another key's) a JSON 404, before any stream starts.
  const resumeFrom = resumePoint(req);
  const first = await ctx.jobs.get(id, jobScopeOf(res));
  const { model } = first;
  await ctx.events.follow(model); // a model installed after the API started is followed from here on
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
  });
  // The client learns the stream is open now, not at the first event or heartbeat (a resume may have none yet).
  res.flushHeaders();

  let lastSent = "0-0";
  let done = false;
  let live = false;
  let chain = Promise.resolve();
  const buffer: QueueEvent[] = [];
  const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), ctx.config.SSE_HEARTBEAT_SECONDS * 1000);
  const finish = () => {
    if (done) return;
    done = true;
    clearInterval(heartbeat);
    ctx.events.off("event", onEvent);
    res.end();
  };
  const send = (eventId: string, kind: string, job: JobResource, terminal: boolean) => {
    if (done) return;
    res.write(`id: ${eventId}\nevent: ${kind}\ndata: ${JSON.stringify(job)}\n\n`);
    lastSent = eventId;
    if (terminal) finish();
  };
  // Another job of the model starting or cancelled while queued moves this one up: a "position" event.
  const relevant = (e: QueueEvent) => e.jobId === id || ((e.kind === "active" || e.kind === "cancelled") && e.model === model);
  const deliver = (e: QueueEvent) => {
    chain = chain
      .then(async () => {
        if (done || !isAfter(e.id, lastSent)) return;
        const job = await ctx.jobs.get(id, ALL_JOBS);
        if (e.jobId === id) send(e.id, clientEventOf(e.kind, e.progress), asOfEvent(e.kind, e.progress, job), TERMINAL_EVENTS.has(e.kind));
        else if (job.status === "queued") send(e.id, "position", job, false);
      })
      .catch(finish);
  };
  function onEvent(e: QueueEvent): void {
    if (!relevant(e)) return;
    if (live) deliver(e);
    else buffer.push(e);
  }
  ctx.events.on("event", onEvent);
  res.on("close", finish); // the client went away (or the response ended)

  if (resumeFrom !== undefined) {
    lastSent = resumeFrom;
    for (const e of await ctx.events.since(model, resumeFrom)) if (relevant(e)) deliver(e);
    await chain;
  }
  // A fresh listener, or one whose missed end was trimmed from the stream, starts from the current state.
  // The state's id is the newest event read before the state itself: an event that lands between the two
  // reads is sent after the state (perhaps repeating what the state shows), never skipped as already sent.
  const at = await ctx.events.latestId(model);
  const now = await ctx.jobs.get(id, ALL_JOBS);
  if (!done && (resumeFrom === undefined || TERMINAL_STATUSES.has(now.status))) {
    send(isAfter(at, lastSent) ? at : lastSent, "state", now, TERMINAL_STATUSES.has(now.status));
  }
  live = true;
  for (const e of buffer.splice(0)) deliver(e);
}

export function jobEventRoutes(api: ApiRouter, ctx: AppContext): void {
  api.route(
    {
      method: "get", path: "/v1/jobs/:id/events", tag: "jobs", access: "jobs:read",
      summary: "Server-Sent Events of the job's state and progress until it ends (Last-Event-ID resumes)",
      responses: {
        200: {
          description: "event stream (state, waiting, active, progress, chunk, preview, completed, failed, position); each event's data is the job resource. A `preview` event's progress.preview gives the new preview's step and URL",
          contentType: "text/event-stream",
        },
        400: { description: "a Last-Event-ID that is not an event id of this stream", schema: ErrorBodySchema },
      },
    },
    (req, res) => streamJob(ctx, req, res),
  );
}
