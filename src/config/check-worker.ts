// Worker-thread side of loadConfigBytesOffThread: parses, validates and normalizes one file's bytes, then posts
// the entities serialized in batches (moved, not copied) and ends, so that its heap is gone before they are read.
import { parentPort, workerData } from 'node:worker_threads';
import { readlinkSync } from 'node:fs';
import { constants, setPriority } from 'node:os';
import { serialize } from 'node:v8';
import { checkConfigText } from './load';
import { ConfigError } from './errors';
import type { EntitySet } from './entities';
import { ownBuffer, type CheckMessage, type EntityBatch } from './load-off-thread';

// Entities per batch: reading one on the main thread is a task of a few milliseconds.
const BATCH = 2000;

function post(message: CheckMessage, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

/**
 * Requests come first: this thread takes a lower scheduling priority (Linux sets it per thread), so on a busy
 * or single core the event loop gets about nine tenths of the time when both want it, and a reload slows down
 * instead of requests. Not the lowest: against other busy processes the reload must still make progress.
 */
function yieldToServing(): void {
  try {
    const thread = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(thread, constants.priority.PRIORITY_BELOW_NORMAL);
  } catch {
    // elsewhere: this thread keeps the process's priority
  }
}

/** The file's text; its bytes are let go (workerData would hold them for as long as this thread runs). */
function takeText(data: { bytes?: Uint8Array }): string {
  const bytes = data.bytes!;
  data.bytes = undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

function run(): void {
  const { file, behindRequests } = workerData as { file: string; behindRequests: boolean };
  if (behindRequests) yieldToServing();
  const { entities, hash, warnings } = checkConfigText(takeText(workerData), file);
  const batches: EntityBatch[] = [];
  for (const kind of Object.keys(entities) as Array<keyof EntitySet>) {
    const list = entities[kind];
    entities[kind] = []; // each kind's objects can go once serialized
    for (let i = 0; i < list.length; i += BATCH) batches.push({ kind, data: ownBuffer(serialize(list.slice(i, i + BATCH))) });
  }
  // Each batch has a buffer of its own: they move to the main thread without a copy.
  post({ type: 'done', hash, warnings, batches }, batches.map((b) => b.data.buffer as ArrayBuffer));
}

try {
  run();
} catch (err) {
  if (err instanceof ConfigError) post({ type: 'invalid', issues: err.issues });
  else post({ type: 'failed', message: (err as Error).message });
}
