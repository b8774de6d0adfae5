import { pino, type DestinationStream, type Logger as PinoLogger } from "pino";

export type LogLevel = "debug" | "info" | "warn" | "error";
type LogFn = (msg: string, fields?: Record<string, unknown>) => void;

/** The platform's logger: `log.info(msg, fields?)`, and `child(bindings)` for a job's or a request's lines. */
export type Logger = Record<LogLevel, LogFn> & { child(bindings: Record<string, unknown>): Logger };

/**
 * Keeps the tree's call shape over pino. The message goes first in the merged object, so a line reads
 * `..."msg":"job failed","job_id":...` as it always has (pino alone would write `msg` last).
 */
function adapt(p: PinoLogger): Logger {
  const make = (level: LogLevel): LogFn => (msg, fields) => {
    if (p.isLevelEnabled(level)) p[level]({ msg, ...fields });
  };
  return {
    debug: make("debug"),
    info: make("info"),
    warn: make("warn"),
    error: make("error"),
    child: (bindings) => adapt(p.child(bindings)),
  };
}

/**
 * One JSON object per line on stdout (what log shippers and `docker logs` expect): time, level by name,
 * component, msg, then the fields. Written synchronously, so a line logged just before exit is not lost.
 */
export function createLogger(component: string, level: LogLevel, destination?: DestinationStream): Logger {
  return adapt(
    pino(
      {
        level,
        base: { component },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      destination ?? pino.destination({ dest: 1, sync: true }),
    ),
  );
}
