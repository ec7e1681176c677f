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
  /** The id the correlation-id plugin gave the request, when it ran (Kong's serializer has it as correlation_id). */
  correlation_id?: string;
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

/** Lines are handed to the destination at most this long after they were logged, or sooner when this many bytes pile up. */
const BATCH_MS = 50;
const BATCH_BYTES = 64 * 1024;

/**
 * Lines encoded into one buffer for up to BATCH_MS and handed to the destination as that buffer: each line is
 * encoded once, as it is added, and the destination's costs (its bookkeeping, a write to the file) are paid per
 * batch rather than per request.
 */
class Batch {
  private buf = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;
  private timer: NodeJS.Timeout | undefined = undefined;

  constructor(private readonly out: { write(b: Buffer): unknown }) {}

  write(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: a line that might not fit goes after what is collected.
    if (this.used + line.length * 3 > this.buf.length) {
      this.drain();
      if (line.length * 3 > this.buf.length) {
        this.out.write(Buffer.from(line));
        return;
      }
    }
    this.used += this.buf.write(line, this.used);
    if (this.timer === undefined) this.timer = setTimeout(this.drain, BATCH_MS).unref();
  }

  readonly drain = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.used === 0) return;
    // The destination keeps the buffer until it is written: the next lines go to a new one.
    const full = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(BATCH_BYTES);
    this.used = 0;
    this.out.write(full);
  };
}

/** Where batches of access lines go: a file or stdout here, or the primary that writes a pool's lines. */
export interface AccessSink {
  write(chunk: Buffer): unknown;
  /** Writes out what is buffered (on shutdown). */
  flush(): void;
}

/**
 * pino's SonicBoom destination in asynchronous mode on a file (appended to) or stdout. The file is opened now, so
 * a bad path fails the start.
 */
export function openAccessSink(target: AccessLogTarget): AccessSink {
  const fd = target === 'stdout' ? 1 : openSync(target, 'a');
  const destination = pino.destination({ fd, sync: false, contentMode: 'buffer' });
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
  // In buffer mode SonicBoom takes Buffers (its types only know strings).
  return { write: (chunk) => destination.write(chunk as unknown as string), flush };
}

/**
 * The access log: lines built as strings (accessLine), collected in batches handed to the sink, off the request
 * path. `off`: none.
 */
export function createAccessLog(target: AccessLogTarget | AccessSink, format: LogFormat): AccessLog | undefined {
  if (target === 'off') return undefined;
  const sink = typeof target === 'string' ? openAccessSink(target) : target;
  const batch = new Batch(sink);
  const flush = () => {
    batch.drain();
    sink.flush();
  };
  // Whatever way the process ends, the lines still collected are written first.
  process.on('exit', flush);
  const write = format === 'pretty' ? (entry: AccessEntry) => batch.write(prettyLine(accessLine(entry, time()))) : (entry: AccessEntry) => batch.write(accessLine(entry, time()));
  return { write, flush };
}
