import http from 'node:http';
import https from 'node:https';
import { log } from '../log';

/** Kong's queue parameters (kong/tools/queue_schema.lua), in its units: seconds. */
export interface QueueConfig {
  max_batch_size: number;
  max_coalescing_delay: number;
  max_entries: number;
  max_bytes?: number | null;
  max_retry_time: number;
  initial_retry_delay: number;
  max_retry_delay: number;
  concurrency_limit: number;
}

export interface SenderOptions {
  /** For log lines. */
  name: string;
  endpoint: URL;
  contentType: string;
  headers?: Record<string, string>;
  /** Milliseconds, Kong's connect_timeout / send_timeout / read_timeout. */
  connectTimeout: number;
  sendTimeout: number;
  readTimeout: number;
  queue: QueueConfig;
  /** One batch's body from its entries. */
  encode(entries: readonly unknown[]): Buffer;
}

const DROP_LOG_INTERVAL_MS = 60_000;

/**
 * A bounded in-memory queue that POSTs entries in batches, one batch at a time, retrying with exponential backoff
 * until max_retry_time. Enqueueing never waits and never throws: a full queue drops its oldest entry (counted,
 * logged at most once a minute), so a collector that is down or slow costs the proxy nothing but memory, bounded.
 */
export class BatchSender {
  private entries: unknown[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private closed = false;
  dropped = 0;
  private droppedLoggedAt = 0;

  constructor(private readonly options: SenderOptions) {}

  add(entry: unknown): void {
    if (this.closed) return;
    const q = this.options.queue;
    if (this.entries.length >= q.max_entries) {
      this.entries.shift();
      this.dropped++;
      const now = Date.now();
      if (now - this.droppedLoggedAt >= DROP_LOG_INTERVAL_MS) {
        this.droppedLoggedAt = now;
        log('warn', `${this.options.name}: queue full, dropping the oldest entry`, { max_entries: q.max_entries, dropped: this.dropped });
      }
    }
    this.entries.push(entry);
    this.schedule();
  }

  /** Sends what is queued now; resolves when the queue is empty or its sending gave up. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.entries.length > 0 && !this.sending) await this.sendBatch();
  }

  /** Stops timers; what is queued is sent once more, without retries beyond the first failure. */
  close(): Promise<void> {
    this.closed = true;
    return this.flush();
  }

  private schedule(): void {
    if (this.sending) return;
    const full = this.entries.length >= this.options.queue.max_batch_size;
    if (this.timer !== undefined) {
      if (!full) return;
      clearTimeout(this.timer); // a full batch goes now, not at the end of the coalescing delay
    }
    const delay = full ? 0 : this.options.queue.max_coalescing_delay * 1000;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sendBatch();
    }, delay);
    this.timer.unref();
  }

  private async sendBatch(): Promise<void> {
    if (this.entries.length === 0) return;
    this.sending = true;
    const batch = this.entries.splice(0, this.options.queue.max_batch_size);
    const q = this.options.queue;
    const deadline = Date.now() + q.max_retry_time * 1000;
    let delay = q.initial_retry_delay * 1000;
    try {
      for (;;) {
        const err = await this.post(this.options.encode(batch));
        if (err === undefined) break;
        if (this.closed || Date.now() + delay > deadline) {
          log('warn', `${this.options.name}: could not send a batch, dropped it`, { entries: batch.length, error: err });
          break;
        }
        await new Promise((r) => setTimeout(r, delay).unref());
        delay = Math.min(delay * 2, q.max_retry_delay * 1000);
      }
    } finally {
      this.sending = false;
    }
    if (this.entries.length > 0 && !this.closed) this.schedule();
  }

  /** One POST; resolves with why it failed, or undefined on a 2xx. */
  private post(body: Buffer): Promise<string | undefined> {
    const o = this.options;
    const url = o.endpoint;
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      let settled = false;
      const done = (err?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(err);
      };
      const req = client.request(url, {
        method: 'POST',
        headers: { ...o.headers, 'content-type': o.contentType, 'content-length': body.length },
        agent: false,
      });
      // connect, then send, then read: each its own budget, as Kong's set_timeouts.
      let timer = setTimeout(() => req.destroy(new Error('connect timeout')), o.connectTimeout);
      req.on('socket', (socket) => {
        socket.once('connect', () => {
          clearTimeout(timer);
          timer = setTimeout(() => req.destroy(new Error('send timeout')), o.sendTimeout);
        });
      });
      req.on('finish', () => {
        clearTimeout(timer);
        timer = setTimeout(() => req.destroy(new Error('read timeout')), o.readTimeout);
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode! >= 200 && res.statusCode! < 300 ? undefined : `the collector answered ${res.statusCode}`));
        res.on('error', (e) => done(e.message));
      });
      req.on('error', (e) => done(e.message));
      req.end(body);
    });
  }
}
