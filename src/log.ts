import pino from 'pino';
import { prettyDestination } from './observe/pretty';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'pretty';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** pino's settings shared by the event log and the access log: ISO times, no pid/hostname. */
export const PINO_BASE: pino.LoggerOptions = { base: null, timestamp: pino.stdTimeFunctions.isoTime };

/** JSON unless asked otherwise; people at a terminal get the pretty format by default. */
export function defaultFormat(fd: 1 | 2): LogFormat {
  return (fd === 1 ? process.stdout : process.stderr).isTTY ? 'pretty' : 'json';
}

function eventLogger(level: LogLevel, format: LogFormat): pino.Logger {
  // Synchronous: events are rare, and a line written just before an exit must not be lost.
  const fd = pino.destination({ fd: 2, sync: true });
  return pino(
    { ...PINO_BASE, level, formatters: { level: (label) => ({ level: label }) } },
    format === 'pretty' ? prettyDestination(fd) : fd,
  );
}

let format: LogFormat = 'json';
let logger = eventLogger('info', format);

/** Sets the level and format of event lines (stderr), and fields every line carries (a pool worker's id). */
export function configureLog(options: { level?: LogLevel; format?: LogFormat; fields?: Record<string, unknown> }): void {
  format = options.format ?? format;
  logger = eventLogger(options.level ?? (logger.level as LogLevel), format);
  if (options.fields !== undefined) logger = logger.child(options.fields);
}

export function setLogLevel(level: LogLevel): void {
  logger.level = level;
}

/** One line on stderr per event. Callers pass no secrets: fields are written as given. */
export function log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (!logger.isLevelEnabled(level)) return;
  logger[level]({ msg, ...fields });
}
