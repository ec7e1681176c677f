import { open, type FileHandle } from 'node:fs/promises';
import type { PluginDefinition } from '../types';
import { closeQueuedSink, IMMEDIATE_QUEUE, queuedSink, queueEntry, refuseLuaFields, type QueuedSink, type Sink } from '../log-plugin';
import { joinBytes } from '../../observe/queue';
import configSchema from './schema.json';

export interface FileLogConfig {
  path: string;
  reopen: boolean;
  custom_fields_by_lua?: Record<string, string> | null;
}

/** Kong opens the file with mode 0644, creating it, never its directory. */
const MODE = 0o644;

/** Appends lines to one file: through a descriptor kept open, or opening and closing it on each write (`reopen`). */
class FileSink implements Sink {
  private handle: FileHandle | undefined = undefined;

  constructor(
    readonly path: string,
    readonly reopen: boolean,
  ) {}

  async write(batch: Buffer[]): Promise<void> {
    const data = joinBytes(batch, '', '\n', '\n');
    if (this.reopen) {
      const h = await this.open();
      try {
        await h.write(data);
      } finally {
        await h.close();
      }
      return;
    }
    // Kept open as Kong does: a file moved or removed meanwhile keeps receiving the lines (logrotate needs reopen).
    this.handle ??= await this.open();
    await this.handle.write(data);
  }

  close(): void {
    void this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }

  private async open(): Promise<FileHandle> {
    try {
      return await open(this.path, 'a', MODE);
    } catch (err) {
      throw new Error(`failed to open the file: ${(err as Error).message}`);
    }
  }
}

export const fileLog: PluginDefinition<FileLogConfig, QueuedSink> = {
  name: 'file-log',
  priority: 9,
  version: '3.9.0',
  configSchema,
  check: (plugin) => refuseLuaFields(plugin.config),
  compile(c, build) {
    if (build.previous !== undefined) return build.previous as QueuedSink;
    // Kong writes once and does not retry: a write that fails is logged and its entries dropped.
    return queuedSink('file-log', { ...IMMEDIATE_QUEUE, max_retry_time: 0 }, new FileSink(c.path, c.reopen));
  },
  log: queueEntry,
  dispose: closeQueuedSink,
};
