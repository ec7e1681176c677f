// The checking a config's bytes get away from the event loop's thread (in a worker thread or a child process):
// parse, validate, normalize, then the entities serialized in batches of their own buffers. Shared by both
// sides: the thread that checks and the one that reads the batches (which imports only the types).
import { serialize } from 'node:v8';
import { checkSource } from './load';
import { parseConfigText, readConfigText } from './source';
import { ConfigError, type ConfigIssue } from './errors';
import type { EntitySet } from './entities';

/** One batch of entities of one kind, serialized by the checking side. */
export interface EntityBatch {
  kind: keyof EntitySet;
  data: Uint8Array;
}

/** A batch written to a file, where it follows the one before: its kind and its size in bytes. */
export interface WrittenBatch {
  kind: keyof EntitySet;
  bytes: number;
}

/** What the checking side answers: one outcome. */
export type CheckMessage =
  | { type: 'done'; hash: string; warnings: ConfigIssue[]; batches: EntityBatch[] }
  | { type: 'invalid'; issues: ConfigIssue[] }
  | { type: 'failed'; message: string };

/** A check's outcome with the batches not made yet: each is serialized when it is asked for. */
export type CheckOutcome = Exclude<CheckMessage, { type: 'done' }> | { type: 'done'; hash: string; warnings: ConfigIssue[]; batches: Iterable<EntityBatch> };

// Entities per batch: reading one on the main thread is a task of a few milliseconds.
const BATCH = 2000;

/**
 * The one outcome of checking a file's text: the entities in batches, or the issues, or why it failed. `text` is
 * the text, or `{ read: file }` to read it from that file here (an unreadable file is an issue, as on a start).
 * Callers pass the text without keeping it (nor the bytes it came from), so that it can go once parsed; the parsed
 * document is let go before the first batch is asked for. `collect`, where given, is called where most of what
 * was made so far has become garbage (after parsing, after checking): a process that only checks passes a full
 * garbage collection, so that its heap does not grow to hold that garbage beside what comes next.
 */
export function checkInBatches(text: string | { read: string }, file: string, collect?: () => void): CheckOutcome {
  try {
    const source = parseConfigText(typeof text === 'string' ? text : readConfigText(text.read), file);
    collect?.();
    // Nothing here reads the document after checking: its consumers can go as their entities are made.
    const { entities, hash, warnings } = checkSource(source, { releaseDocument: true });
    return { type: 'done', hash, warnings, batches: serializeInBatches(entities, collect) };
  } catch (err) {
    if (err instanceof ConfigError) return { type: 'invalid', issues: err.issues };
    return { type: 'failed', message: (err as Error).message };
  }
}

/** Each kind's entities, BATCH at a time; a kind's objects can go once its last batch is made. */
function* serializeInBatches(entities: EntitySet, collect?: () => void): Generator<EntityBatch> {
  collect?.(); // the parsed document, now that checking is over
  for (const kind of Object.keys(entities) as Array<keyof EntitySet>) {
    const list = entities[kind];
    entities[kind] = [];
    for (let i = 0; i < list.length; i += BATCH) yield { kind, data: ownBuffer(serialize(list.slice(i, i + BATCH))) };
  }
}

/** `bytes` if they are the whole of their buffer (which can then move to another thread), else a copy that is. */
export function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}
