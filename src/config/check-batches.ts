// The checking a config's bytes get away from the event loop's thread (in a worker thread or a child process):
// parse, validate, normalize, then the entities serialized in batches of their own buffers.
import { serialize } from 'node:v8';
import { checkConfigText } from './load';
import { ConfigError } from './errors';
import type { EntitySet } from './entities';
import { ownBuffer, type CheckMessage, type EntityBatch } from './load-off-thread';

// Entities per batch: reading one on the main thread is a task of a few milliseconds.
const BATCH = 2000;

/**
 * The one outcome of checking a file's text: the entities in batches, or the issues, or why it failed. Callers
 * pass the text without keeping it (nor the bytes it came from), so that it can go once parsed.
 */
export function checkInBatches(text: string, file: string): CheckMessage {
  try {
    const { entities, hash, warnings } = checkConfigText(text, file);
    const batches: EntityBatch[] = [];
    for (const kind of Object.keys(entities) as Array<keyof EntitySet>) {
      const list = entities[kind];
      entities[kind] = []; // each kind's objects can go once serialized
      for (let i = 0; i < list.length; i += BATCH) batches.push({ kind, data: ownBuffer(serialize(list.slice(i, i + BATCH))) });
    }
    return { type: 'done', hash, warnings, batches };
  } catch (err) {
    if (err instanceof ConfigError) return { type: 'invalid', issues: err.issues };
    return { type: 'failed', message: (err as Error).message };
  }
}
