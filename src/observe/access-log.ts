import { openSync } from 'node:fs';
import pino from 'pino';
import type { LogFormat } from '../log';
import { log, PINO_BASE } from '../log';
import { prettyDestination } from './pretty';
import type { Refusal } from '../proxy/context';

/**
 * One access log line. Fields come from the config, the gateway, fixed sets or checked client input (the method,
 * an X-Request-Id of safe characters); `path` is what the client sent, redacted. No header or body is logged.
 */
export interface AccessEntry {
  request_id: string;
  client_ip: string | undefined;
  method: string | undefined;
  /** The request target as the client sent it, query values of key-auth key names replaced by `[REDACTED]`. */
  path: string;
  status: number;
  latency_ms: number;
  upstream_latency_ms: number | undefined;
  gateway_latency_ms: number;
  bytes_in: number;
  bytes_out: number;
  route: string | undefined;
  service: string | undefined;
  consumer: string | undefined;
  reason: Refusal | undefined;
}

/** Where access lines go: `off`, `stdout`, or a file path (appended to). */
export type AccessLogTarget = string;

export interface AccessLog {
  write(entry: AccessEntry): void;
  /** Writes out what is buffered (on shutdown). */
  flush(): void;
}

let lastSecond = -1;
let secondPrefix = '';

/** The line's time, `"time":"…"`: the date part is formatted once per second. */
function time(): string {
  const now = Date.now();
  const ms = now % 1000;
  const second = now - ms;
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = `"time":"${new Date(second).toISOString().slice(0, 20)}`;
  }
  return `${secondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}

/** Lines are handed to the destination at most this long after they were logged, or sooner when this many pile up. */
const BATCH_MS = 50;
const BATCH_CHARS = 64 * 1024;

/**
 * Lines collected for up to BATCH_MS and handed to the destination as one string: the destination's costs (its
 * buffer bookkeeping, a write to the file) are paid per batch rather than per request.
 */
class Batch {
  private lines: string[] = [];
  private chars = 0;
  private timer: NodeJS.Timeout | undefined = undefined;

  constructor(private readonly out: { write(s: string): unknown }) {}

  write(line: string): void {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= BATCH_CHARS) this.drain();
    else if (this.timer === undefined) this.timer = setTimeout(this.drain, BATCH_MS).unref();
  }

  readonly drain = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? this.lines[0] : this.lines.join('');
    this.lines = [];
    this.chars = 0;
    this.out.write(text);
  };
}

/** Where formatted access lines go: a file or stdout here, or the primary that writes a pool's lines. */
export interface AccessSink {
  write(text: string): unknown;
  /** Writes out what is buffered (on shutdown). */
  flush(): void;
}

/**
 * A SonicBoom destination in asynchronous mode on a file (appended to) or stdout. The file is opened now, so a
 * bad path fails the start.
 */
export function openAccessSink(target: AccessLogTarget): AccessSink {
  const fd = target === 'stdout' ? 1 : openSync(target, 'a');
  const destination = pino.destination({ fd, sync: false });
  let failed = false;
  destination.on('error', (err: Error) => {
    // A full disk or a closed pipe must not take the proxy down: say so once, keep serving.
    if (failed) return;
    failed = true;
    log('error', 'access log write failed', { target, error: err.message });
  });
  const flush = () => {
    try {
      destination.flushSync();
    } catch {
      // nothing buffered, or the destination is gone: nothing more to do
    }
  };
  // Whatever way the process ends, the lines still buffered are written first.
  process.on('exit', flush);
  return { write: (text) => destination.write(text), flush };
}

/**
 * The access log: pino formatting into batches handed to the sink, so a request only pays for serializing its
 * line; lines are written off the request path. `off`: none.
 */
export function createAccessLog(target: AccessLogTarget | AccessSink, format: LogFormat): AccessLog | undefined {
  if (target === 'off') return undefined;
  const sink = typeof target === 'string' ? openAccessSink(target) : target;
  const batch = new Batch(sink);
  const logger = pino(
    {
      ...PINO_BASE,
      // Access lines carry no level: the time comes first (pino takes the returned text as the line's first field).
      timestamp: time,
      formatters: { level: () => ({}) },
    },
    format === 'pretty' ? prettyDestination(batch) : batch,
  );
  const flush = () => {
    batch.drain();
    sink.flush();
  };
  // Whatever way the process ends, the lines still collected are written first.
  process.on('exit', flush);
  return { write: (entry) => logger.info(entry), flush };
}
