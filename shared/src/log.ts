const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;
export type Logger = Record<LogLevel, (msg: string, fields?: Record<string, unknown>) => void>;

/** One JSON object per line on stdout: what log shippers and `docker logs` expect. */
export function createLogger(component: string, level: LogLevel): Logger {
  const make = (l: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[l] < LEVELS[level]) return;
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: l, component, msg, ...fields })}\n`);
  };
  return { debug: make("debug"), info: make("info"), warn: make("warn"), error: make("error") };
}
