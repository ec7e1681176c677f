import type { PluginCheck } from './types';
import { BatchQueue, type QueueConfig } from '../observe/queue';
import type { LogEntry } from '../observe/log-entry';

/** Kong's custom_fields_by_lua: Lua code, which this gateway does not run; an empty map is no code. */
export function refuseLuaFields(config: { custom_fields_by_lua?: Record<string, string> | null }): PluginCheck[] {
  const fields = config.custom_fields_by_lua;
  if (fields == null || Object.keys(fields).length === 0) return [];
  return [{ path: ['config', 'custom_fields_by_lua'], message: 'Lua code is not supported by this gateway: remove custom_fields_by_lua' }];
}

/**
 * The queue of plugins Kong gives none (file-log, tcp-log, udp-log): entries leave at once, many to a write, and
 * at most 10,000 wait while the destination is slow. Each plugin sets max_retry_time 0: Kong drops what fails.
 */
export const IMMEDIATE_QUEUE: QueueConfig = {
  max_batch_size: 1000,
  max_coalescing_delay: 0,
  max_entries: 10_000,
  max_bytes: null,
  max_retry_time: 60,
  initial_retry_delay: 0.01,
  max_retry_delay: 60,
  concurrency_limit: 1,
};

/** Where a log plugin's batches go: a collector, a file, a socket. */
export interface Sink {
  /** The entries' JSON texts as UTF-8. */
  write(batch: Buffer[]): Promise<void>;
  /** Releases connections or descriptors, once nothing is left to send. */
  close(): void;
}

/** A log plugin instance's compiled state: its queue and where the queue sends. */
export interface QueuedSink {
  queue: BatchQueue;
  sink: Sink;
}

export function queuedSink(plugin: string, queue: QueueConfig, sink: Sink): QueuedSink {
  return { sink, queue: new BatchQueue(plugin, queue, (batch) => sink.write(batch)) };
}

/** The log phase of every log plugin: the entry is queued, never waited for. */
export function queueEntry(_ctx: unknown, c: QueuedSink, entry: LogEntry): void {
  c.queue.add(entry.json());
}

/** A retired instance sends what it holds at once, then closes its sink. */
export function closeQueuedSink(c: QueuedSink): void {
  c.queue.close();
  void c.queue.whenDrained().then(() => c.sink.close());
}
