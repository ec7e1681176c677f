import { log } from '../log';
import { ByteStore, type Entry } from './entry-store';

/** Kong's queue settings (kong/tools/queue_schema.lua): sizes in entries and bytes, times in seconds. */
export interface QueueConfig {
  max_batch_size: number;
  max_coalescing_delay: number;
  max_entries: number;
  max_bytes?: number | null;
  max_retry_time: number;
  initial_retry_delay: number;
  max_retry_delay: number;
  /** 1: one batch in flight at a time; -1: no limit. */
  concurrency_limit: number;
}

/** Sends one batch; rejects to have it retried. */
export type BatchHandler = (batch: Buffer[]) => Promise<void>;

/** Why entries were dropped: the queue was full, or their batch failed for max_retry_time. */
export type DropReason = 'queue full' | 'retries exhausted' | 'shutdown';

/** Entries (log lines, spans) dropped since start, by plugin and reason (gateway_log_entries_dropped_total). */
export const droppedEntries = new Map<string, number>();

function countDropped(plugin: string, reason: DropReason, n: number): void {
  const key = `${plugin}\n${reason}`;
  droppedEntries.set(key, (droppedEntries.get(key) ?? 0) + n);
}

/** A drop is logged at most this often per queue, with the count since the last line. */
const DROP_LOG_INTERVAL_MS = 10_000;

/** Queues that may still hold entries: the ones stop() waits for. */
const open = new Set<BatchQueue>();

/**
 * Kong's batch queue: entries (JSON texts) wait until `max_batch_size` of them are queued or `max_coalescing_delay`
 * has passed since the first, then go to the handler as one batch; a failed batch is retried with exponential
 * backoff (initial_retry_delay doubling up to max_retry_delay) for max_retry_time, then dropped. Memory is bounded
 * by max_entries and max_bytes: a full queue drops its oldest entries. add() never waits. Entries are log lines or
 * spans, JSON texts or encoded bytes; they wait as bytes (ByteStore), and a batch is their bytes.
 */
export class BatchQueue {
  private readonly store = new ByteStore();
  private running = 0;
  /** When the batch now gathering got its first entry. */
  private gatheringSince = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  /** Closed: entries are sent without waiting to coalesce (a replaced config, shutdown). */
  private closed = false;
  /** Abandoned at the end of the shutdown grace: entries are dropped. */
  private abandoned = false;
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  private drained: (() => void) | undefined = undefined;
  private readonly delayMs: number;
  private readonly limit: number;

  constructor(
    /** The plugin it serves: the metric's label and the log lines' subject. */
    readonly plugin: string,
    readonly conf: QueueConfig,
    private readonly handler: BatchHandler,
  ) {
    this.delayMs = conf.max_coalescing_delay * 1000;
    this.limit = conf.concurrency_limit === -1 ? Infinity : 1;
    open.add(this);
  }

  /** Entries waiting (not counting batches being sent). */
  get size(): number {
    return this.store.size;
  }

  /** Queues one entry; false when it was dropped at once (larger than max_bytes, or after shutdown). */
  add(entry: Entry): boolean {
    if (this.abandoned) {
      this.drop('shutdown', 1);
      return false;
    }
    // A request that ran on a replaced config ends after its queue was closed: still sent, at once.
    if (this.closed) open.add(this);
    const maxBytes = this.conf.max_bytes;
    if (maxBytes != null) {
      const n = this.store.bytesOf(entry);
      if (n > maxBytes) {
        this.drop('queue full', 1);
        return false;
      }
      while (this.store.bytes + n > maxBytes && this.size > 0) this.dropOldest();
    }
    if (this.size >= this.conf.max_entries) this.dropOldest();
    if (this.size === 0) this.gatheringSince = Date.now();
    this.store.push(entry);
    this.pump();
    return true;
  }

  /** From now on sends what is queued without waiting for the coalescing delay (its plugin instance is retired). */
  close(): void {
    this.closed = true;
    this.pump();
  }

  /** Resolves once nothing is queued or being sent. */
  whenDrained(): Promise<void> {
    if (this.size === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const before = this.drained;
      this.drained = () => {
        before?.();
        resolve();
      };
    });
  }

  /** Counts and forgets what is left (at the end of the shutdown grace). */
  abandon(): void {
    this.closed = true;
    this.abandoned = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.drop('shutdown', this.size);
    this.store.clear();
    open.delete(this);
  }

  private dropOldest(): void {
    this.store.dropOldest();
    this.drop('queue full', 1);
  }

  /** Counts dropped entries; logs them at most once per DROP_LOG_INTERVAL_MS, with the count since the last line. */
  private drop(reason: DropReason, n: number, error?: Error): void {
    if (n === 0) return;
    countDropped(this.plugin, reason, n);
    this.droppedSinceLog += n;
    const now = Date.now();
    if (now - this.lastDropLog < DROP_LOG_INTERVAL_MS) return;
    log('warn', 'queued entries dropped', { plugin: this.plugin, reason, dropped: this.droppedSinceLog, ...(error && { error: error.message }) });
    this.lastDropLog = now;
    this.droppedSinceLog = 0;
  }

  /** Starts every batch that is ready and allowed; else waits for the coalescing delay to end. */
  private pump(): void {
    while (this.running < this.limit && this.size > 0) {
      // Already waiting for the coalescing delay, and the batch is not full: its timer sends it (no clock read per entry).
      if (this.timer !== undefined && !this.closed && this.size < this.conf.max_batch_size) return;
      const due = this.gatheringSince + this.delayMs;
      if (!this.closed && this.size < this.conf.max_batch_size && Date.now() < due) {
        if (this.timer === undefined) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, due - Date.now());
          this.timer.unref();
        }
        return;
      }
      this.send(this.take());
    }
    if (this.size === 0 && this.running === 0) this.settled();
  }

  private take(): Buffer[] {
    const batch = this.store.take(Math.min(this.conf.max_batch_size, this.store.size));
    // The entries left start gathering the next batch now.
    this.gatheringSince = Date.now();
    return batch;
  }

  private send(batch: Buffer[]): void {
    this.running++;
    void this.deliver(batch).finally(() => {
      this.running--;
      this.pump();
    });
  }

  private async deliver(batch: Buffer[]): Promise<void> {
    const started = Date.now();
    const maxRetryMs = this.conf.max_retry_time * 1000;
    let delay = this.conf.initial_retry_delay * 1000;
    for (;;) {
      try {
        await this.handler(batch);
        return;
      } catch (err) {
        if (Date.now() - started + delay > maxRetryMs) {
          this.drop('retries exhausted', batch.length, err as Error);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, this.conf.max_retry_delay * 1000);
      }
    }
  }

  private settled(): void {
    if (this.closed) open.delete(this);
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }
}

/** Batch entries' bytes joined into one body: `open`, the entries with `separator` between them, `close`. */
export function joinBytes(batch: readonly Buffer[], open: string, separator: string, close: string): Buffer {
  let length = open.length + close.length + separator.length * Math.max(0, batch.length - 1);
  for (const b of batch) length += b.length;
  const out = Buffer.allocUnsafe(length);
  let at = out.write(open, 0, 'latin1');
  for (let i = 0; i < batch.length; i++) {
    if (i > 0) at += out.write(separator, at, 'latin1');
    at += batch[i].copy(out, at);
  }
  out.write(close, at, 'latin1');
  return out;
}

/**
 * At shutdown: sends what every queue holds, waiting at most `ms`; what is still queued then is counted as
 * dropped and logged.
 */
export async function drainQueues(ms: number): Promise<void> {
  const queues = [...open];
  if (queues.length === 0) return;
  for (const q of queues) q.close();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))));
  await Promise.race([Promise.all(queues.map((q) => q.whenDrained())), deadline]);
  clearTimeout(timer);
  for (const q of open) {
    if (q.size > 0) log('warn', 'entries still queued at the end of the shutdown grace', { plugin: q.plugin, entries: q.size });
    q.abandon();
  }
}
