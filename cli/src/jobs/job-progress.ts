import cliProgress from "cli-progress";
import { timeLeftMs, type JobResource } from "@videosdgx/shared";
import type { JobEvent } from "../api/job-events.js";
import { printJson } from "../output.js";
import { describeState, seconds } from "./job-view.js";

/** What `generate` tells its user while the job runs. */
export interface JobProgress {
  submitted(job: JobResource): void;
  event(e: JobEvent): void;
  /** A line of its own (the bar, if any, is stopped first). */
  note(message: string): void;
  stop(): void;
}

/** One JSON line per event of the job's stream, with the estimate of the time left (from the worker's step time). */
export function jsonJobProgress(): JobProgress {
  return {
    submitted: (job) => printJson({ event: "submitted", id: job.id, status: job.status, queue_position: job.queue_position, params: job.params }),
    event: ({ id, event, job }) => {
      const eta = timeLeftMs(job.progress);
      printJson({
        event,
        event_id: id,
        id: job.id,
        status: job.status,
        ...(job.queue_position === undefined ? {} : { queue_position: job.queue_position }),
        progress: job.progress,
        ...(eta === undefined ? {} : { eta_s: Math.round(eta / 100) / 10 }),
      });
    },
    note: (message) => printJson({ event: "note", message }),
    stop: () => undefined,
  };
}

/**
 * On a terminal, a bar on stderr: where the job is (queue position, phase), its step of the phase's
 * total and the time left; otherwise one line whenever that description changes.
 */
export function humanJobProgress(stream: NodeJS.WriteStream = process.stderr): JobProgress {
  const tty = stream.isTTY === true;
  const bar = new cliProgress.SingleBar(
    { stream, format: "{bar} {step}/{total} | {state} | {left}", hideCursor: true, fps: 5, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  let lastState = "";
  const stop = () => {
    if (running) bar.stop();
    running = false;
  };
  return {
    submitted: (job) => {
      const p = job.params;
      stream.write(`job ${job.id} submitted (${p.width}x${p.height}, ${p.num_frames} frames, ${p.steps} steps, seed ${p.seed}): ${describeState(job)}\n`);
    },
    event: ({ job }) => {
      const p = job.progress;
      const eta = timeLeftMs(p);
      const state = describeState(job);
      if (!tty) {
        if (state !== lastState) stream.write(`  ${state}\n`);
        lastState = state;
        return;
      }
      const payload = { step: p.step, total: p.total, state, left: eta === undefined ? "ETA -" : `ETA ${seconds(eta)}` };
      if (!running) bar.start(Math.max(1, p.total), p.step, payload);
      else {
        bar.setTotal(Math.max(1, p.total));
        bar.update(p.step, payload);
      }
      running = true;
    },
    note: (message) => {
      stop();
      stream.write(`${message}\n`);
    },
    stop,
  };
}
