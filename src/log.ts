import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** LogOptions chooses the level and, in tests, a sink stream instead of stdout. */
export interface LogOptions {
  readonly level?: string;
  readonly destination?: DestinationStream;
  /** Bindings carried by every line, e.g. `{ component: 'speaker', node: 'n1' }`. */
  readonly bindings?: Record<string, unknown>;
}

/** createLogger makes the process's root JSON logger; components take child loggers from it. */
export function createLogger(opts: LogOptions = {}): Logger {
  const logger = pino(
    {
      level: opts.level ?? process.env['LOG_LEVEL'] ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination,
  );
  return opts.bindings ? logger.child(opts.bindings) : logger;
}

/** silentLogger is for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
