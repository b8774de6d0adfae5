import cliProgress from "cli-progress";
import { formatBytes, printJson } from "./output.js";

/** What a download tells its user: JSON lines for scripts, a progress bar on a terminal, plain lines otherwise. */
export interface PullProgress {
  start(info: { model: string; files: number; total_bytes: number; done_bytes: number; free_bytes: number }): void;
  file(path: string, size: number, resumeFrom: number): void;
  bytes(n: number): void;
  fileDone(path: string, sha256: string): void;
  note(message: string): void;
  done(info: Record<string, unknown>): void;
  /** Stops the bar (on success or failure) so an error message starts on its own line. */
  stop(): void;
}

const JSON_PROGRESS_EVERY_MS = 500;

export function jsonProgress(): PullProgress {
  let done = 0;
  let total = 0;
  let last = 0;
  let lastDone = 0;
  const started = Date.now();
  const emit = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < JSON_PROGRESS_EVERY_MS) return;
    const bytesPerS = Math.round(((done - lastDone) * 1000) / Math.max(1, now - (last || started)));
    last = now;
    lastDone = done;
    printJson({ event: "progress", done_bytes: done, total_bytes: total, bytes_per_s: bytesPerS, eta_s: bytesPerS > 0 ? Math.round((total - done) / bytesPerS) : null });
  };
  return {
    start: (info) => {
      total = info.total_bytes;
      done = lastDone = info.done_bytes;
      printJson({ event: "start", ...info });
    },
    file: (path, size, resumeFrom) => printJson({ event: "file", path, size, resume_from: resumeFrom }),
    bytes: (n) => {
      done += n;
      emit(false);
    },
    fileDone: (path, sha256) => {
      emit(true);
      printJson({ event: "file_done", path, sha256 });
    },
    note: (message) => printJson({ event: "note", message }),
    done: (info) => printJson({ event: "done", ...info }),
    stop: () => undefined,
  };
}

/** A bar with bytes, speed and ETA on stderr when it is a terminal; one line per file when it is not. */
export function humanProgress(stream: NodeJS.WriteStream = process.stderr): PullProgress {
  const tty = stream.isTTY === true;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: "{bar} {percentage}% | {doneh} / {totalh} | {speed}/s | ETA {eta_formatted} | {file}",
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  let total = 0;
  let file = "";
  let windowStart = Date.now();
  let windowBytes = 0;
  let speed = 0;
  let running = false;
  const update = () => {
    const now = Date.now();
    if (now - windowStart >= 1000) {
      speed = (windowBytes * 1000) / (now - windowStart);
      windowStart = now;
      windowBytes = 0;
    }
    bar.update(done, { doneh: formatBytes(done), totalh: formatBytes(total), speed: formatBytes(Math.round(speed)), file });
  };
  const line = (text: string) => {
    if (running) bar.stop();
    running = false;
    stream.write(`${text}\n`);
  };
  return {
    start: (info) => {
      total = info.total_bytes;
      done = info.done_bytes;
      stream.write(
        `pulling ${info.model}: ${info.files} files, ${formatBytes(info.total_bytes)}` +
          (info.done_bytes > 0 ? ` (${formatBytes(info.done_bytes)} already downloaded)` : "") +
          `, ${formatBytes(info.free_bytes)} free\n`,
      );
    },
    file: (path, size, resumeFrom) => {
      file = path;
      if (!tty) {
        stream.write(`  ${path} (${formatBytes(size)}${resumeFrom > 0 ? `, resuming at ${formatBytes(resumeFrom)}` : ""})\n`);
        return;
      }
      if (!running) {
        bar.start(total, done, { doneh: formatBytes(done), totalh: formatBytes(total), speed: "0 B", file });
        running = true;
      }
      update();
    },
    bytes: (n) => {
      done += n;
      windowBytes += n;
      if (running) update();
    },
    fileDone: () => undefined,
    note: line,
    done: (info) => line(`done: ${String(info.message ?? "")}`),
    stop: () => {
      if (running) bar.stop();
      running = false;
    },
  };
}
