import { Worker } from 'node:worker_threads';
import { extname, join } from 'node:path';
import { deserialize } from 'node:v8';
import { ConfigError, type ConfigIssue } from './errors';
import { buildSnapshot, EntityIndexes, type Snapshot } from './snapshot';
import { readConfigBytes } from './source';
import { Pacer } from './pacer';
import type { EntitySet } from './entities';
import type { LoadedConfig } from './load';

/** One batch of entities of one kind, serialized by the worker. */
export interface EntityBatch {
  kind: keyof EntitySet;
  data: Uint8Array;
}

/** What the checking worker posts: one outcome. */
export type CheckMessage =
  | { type: 'done'; hash: string; warnings: ConfigIssue[]; batches: EntityBatch[] }
  | { type: 'invalid'; issues: ConfigIssue[] }
  | { type: 'failed'; message: string };

export type LoadedOffThread = Omit<LoadedConfig, 'source' | 'router'>;

// Reading the batches on the event loop's thread: entities indexed between two looks at the clock, and the
// longest stretch of that work before requests get their turn.
const STEP = 250;
const SLICE_MS = 3;

// The worker runs the same module format as this one (compiled JavaScript, or TypeScript under a loader).
const WORKER_FILE = join(__dirname, `check-worker${extname(__filename)}`);

/** loadConfigBytesOffThread for a file: read without holding the event loop, then checked in a worker. */
export async function loadConfigFileOffThread(file: string, previous?: () => Snapshot | undefined): Promise<LoadedOffThread> {
  return loadConfigBytesOffThread(await readConfigBytes(file), file, previous);
}

/**
 * loadConfigText without holding the event loop. Parsing, schema validation and normalization run in a worker
 * thread, which hands back the entities serialized in batches and exits: its heap (the parsed document, the
 * biggest thing a load makes) is gone before the snapshot is built here. The batches are then read in slices of
 * a few milliseconds, with I/O between them, filling the snapshot's lookups as they go; only the rest of the
 * snapshot is built in one piece. `bytes` is handed over to the worker (empty here afterwards). `previous` is
 * asked for when the snapshot is built: what is live then is what unchanged plugin state carries over from.
 * `behindRequests`: the worker runs at a lower scheduling priority, so that on a busy core the requests this
 * process serves meanwhile come first, and reading the batches rests after each slice as long as the slice took
 * (a reload); without, both run as fast as they can (a start).
 * Rejects with ConfigError exactly as loadConfigText throws it.
 */
export async function loadConfigBytesOffThread(
  bytes: Uint8Array,
  file: string,
  previous?: () => Snapshot | undefined,
  behindRequests = false,
): Promise<LoadedOffThread> {
  const outcome = await check(bytes, file, behindRequests);
  if (outcome.type === 'invalid') throw new ConfigError(outcome.issues);
  if (outcome.type === 'failed') throw new Error(outcome.message);
  const entities: EntitySet = { services: [], routes: [], consumers: [], plugins: [], keyauth_credentials: [], basicauth_credentials: [], acls: [] };
  const indexes = new EntityIndexes();
  const { batches } = outcome;
  const pacer = new Pacer(SLICE_MS, behindRequests);
  for (let b = 0; b < batches.length; b++) {
    const { kind, data } = batches[b];
    batches[b] = undefined!; // each batch's bytes can go as soon as it is read
    const items = deserialize(data) as unknown[];
    const list = entities[kind] as unknown[];
    for (let i = 0; i < items.length; i += STEP) {
      const end = Math.min(items.length, i + STEP);
      for (let j = i; j < end; j++) list.push(items[j]);
      indexes.add(kind, items, i, end);
      await pacer.between();
    }
  }
  const snapshot = buildSnapshot(entities, outcome.hash, previous?.(), { indexes });
  return { entities, hash: outcome.hash, warnings: outcome.warnings, snapshot };
}

/** `bytes` if they are the whole of their buffer (which can then move to another thread), else a copy that is. */
export function ownBuffer(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/** Runs the worker on `bytes`; resolves with its one message once it has exited. */
function check(bytes: Uint8Array, file: string, behindRequests: boolean): Promise<CheckMessage> {
  const own = ownBuffer(bytes);
  return new Promise((resolve, reject) => {
    let outcome: CheckMessage | undefined;
    let failure: Error | undefined;
    const worker = new Worker(WORKER_FILE, { workerData: { bytes: own, file, behindRequests }, transferList: [own.buffer as ArrayBuffer] });
    worker.on('message', (m: CheckMessage) => (outcome = m));
    worker.on('error', (err) => (failure = err));
    worker.on('exit', (code) => {
      if (outcome !== undefined) resolve(outcome);
      else reject(failure ?? new Error(`config worker exited with ${code} before answering`));
    });
  });
}
