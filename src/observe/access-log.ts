import { openSync } from 'node:fs';
import pino from 'pino';
import type { LogFormat } from '../log';
import { log } from '../log';
import { accessLine } from './access-line';
import { prettyLine } from './pretty';
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

/**
 * The access log: lines built as strings (accessLine), written in batches to pino's SonicBoom destination in
 * asynchronous mode, off the request path. The file is opened now, so a bad path fails the start.
 */
export function createAccessLog(target: AccessLogTarget, format: LogFormat): AccessLog | undefined {
  if (target === 'off') return undefined;
  const fd = target === 'stdout' ? 1 : openSync(target, 'a');
  const destination = pino.destination({ fd, sync: false });
  let failed = false;
  destination.on('error', (err: Error) => {
    // A full disk or a closed pipe must not take the proxy down: say so once, keep serving.
    if (failed) return;
    failed = true;
    log('error', 'access log write failed', { target, error: err.message });
  });
  const batch = new Batch(destination);
  const flush = () => {
    batch.drain();
    try {
      destination.flushSync();
    } catch {
      // nothing buffered, or the destination is gone: nothing more to do
    }
  };
  // Whatever way the process ends, the lines still collected are written first.
  process.on('exit', flush);
  const write = format === 'pretty' ? (entry: AccessEntry) => batch.write(prettyLine(accessLine(entry, time()))) : (entry: AccessEntry) => batch.write(accessLine(entry, time()));
  return { write, flush };
}
