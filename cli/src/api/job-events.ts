import { setTimeout as sleep } from "node:timers/promises";
import { CliExitCode, JobResourceSchema, parseJsonOrUndefined, type JobResource } from "@videosdgx/shared";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { CliError } from "../cli-error.js";
import { causeOf } from "../hub/hub-client.js";
import { isAbort, type ApiClient } from "./api-client.js";

/** One event of `GET /v1/jobs/:id/events`: its name (state, waiting, position, active, progress, chunk, completed, failed) and the job as sent. */
export interface JobEvent {
  id?: string;
  event: string;
  job: JobResource;
}

const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["completed", "failed", "cancelled"]);

/** How long the CLI keeps reopening a stream that yields nothing before it gives up (the API is gone, not restarting). */
const RECONNECT_FOR_MS = 60_000;
const RECONNECT_DELAY_MS = 1000;

/**
 * Follows the job's event stream until the job has ended, reconnecting with Last-Event-ID (as
 * EventSource does) when the stream drops, so no event is missed or repeated. Returns the job as the
 * terminal event showed it.
 */
export async function followJob(api: ApiClient, id: string, onEvent: (e: JobEvent) => void, signal: AbortSignal): Promise<JobResource> {
  let lastId: string | undefined;
  let giveUpAt = Date.now() + RECONNECT_FOR_MS;
  for (;;) {
    try {
      const res = await api.fetch(`/v1/jobs/${encodeURIComponent(id)}/events`, {
        headers: { accept: "text/event-stream", ...(lastId ? { "last-event-id": lastId } : {}) },
        signal,
      });
      if (!res.body) throw new Error("the event stream has no body");
      const messages = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
      for await (const m of messages as unknown as AsyncIterable<{ id?: string; event?: string; data: string }>) {
        const job = JobResourceSchema.safeParse(parseJsonOrUndefined(m.data));
        if (!job.success) throw new CliError("bad_answer", `the API sent a ${m.event ?? "message"} event whose data is not a job`, CliExitCode.failed);
        if (m.id) lastId = m.id;
        giveUpAt = Date.now() + RECONNECT_FOR_MS;
        onEvent({ id: m.id, event: m.event ?? "message", job: job.data });
        if (TERMINAL_STATUSES.has(job.data.status)) return job.data;
      }
      // Ended before the job did (the API restarted): reconnect.
    } catch (err) {
      if (isAbort(err) || signal.aborted) throw err;
      // A refusal (404, 401) is final; an unreachable or not yet ready API (a restart: 503) or a broken stream is tried again.
      if (err instanceof CliError && err.exitCode !== CliExitCode.network) throw err;
      if (Date.now() > giveUpAt) {
        throw err instanceof CliError
          ? err
          : new CliError("api_unreachable", `the event stream of job ${id} broke (${causeOf(err)}) and could not be reopened; the job goes on: videosdgx jobs show ${id}`, CliExitCode.network);
      }
    }
    await sleep(RECONNECT_DELAY_MS, undefined, { signal });
  }
}
