import { Worker } from 'node:worker_threads';
import { fork, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { deserialize } from 'node:v8';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ConfigError } from './errors';
import { buildSnapshot, EntityIndexes, type Snapshot } from './snapshot';
import { readConfigBytes } from './source';
import { Pacer } from './pacer';
import { emptyEntitySet } from './entities';
import type { LoadedConfig } from './load';
import { behindServing } from './priority';
import { startIncrementalCollection } from './collect-soon';
import { ownBuffer, type CheckMessage, type EntityBatch, type WrittenBatch } from './check-batches';
import type { ConfigIssue } from './errors';
import type { CheckProcessMessage } from './check-process';

export type LoadedOffThread = Omit<LoadedConfig, 'source' | 'router'>;

// Reading the batches on the event loop's thread: entities indexed between two looks at the clock, and the
// longest stretch of that work before requests get their turn.
const STEP = 250;
const SLICE_MS = 3;

// The worker and the child process run the same module format as this one (compiled JavaScript, or TypeScript
// under a loader, which the child process is then started with too).
const WORKER_FILE = join(__dirname, `check-worker${extname(__filename)}`);
const PROCESS_FILE = join(__dirname, `check-process${extname(__filename)}`);
const PROCESS_LOADER = extname(__filename) === '.js' ? [] : process.execArgv;

/** loadConfigBytesOffThread for a file: read without holding the event loop, then checked in a worker. */
export async function loadConfigFileOffThread(file: string, previous?: () => Snapshot | undefined): Promise<LoadedOffThread> {
  return loadConfigBytesOffThread(await readConfigBytes(file), file, previous);
}

/** A check's entities in batches, with the configuration's hash: what a snapshot is read from. */
export type CheckedConfig = Extract<CheckMessage, { type: 'done' }>;

/** A loaded config; `checked` is set when its batches were kept to hand on (to a pool's workers). */
export interface LoadedWithBatches extends LoadedOffThread {
  checked?: CheckedConfig;
}

/**
 * loadConfigText without holding the event loop. Parsing, schema validation and normalization run in a worker
 * thread, which hands back the entities serialized in batches and exits: its heap (the parsed document, the
 * biggest thing a load makes) is gone before the snapshot is built here (readCheckedConfig). `bytes` is handed
 * over (unusable here afterwards). `behindRequests` (a reload): so that on a busy core the requests this process
 * serves meanwhile come first, the check runs in a child process at a lower scheduling priority instead of a
 * worker thread, and reading the batches is paced; without (a start), both run as fast as they can. `keepBatches`:
 * the batches stay whole and come back as `checked` (a pool's primary hands them to its workers, which then do
 * not check the file again); without, each goes as soon as it is read. Rejects with ConfigError exactly as
 * loadConfigText throws it.
 */
export async function loadConfigBytesOffThread(
  bytes: Uint8Array,
  file: string,
  previous?: () => Snapshot | undefined,
  behindRequests = false,
  keepBatches = false,
): Promise<LoadedWithBatches> {
  // Forking holds the event loop for 10–25 ms (the page tables of this whole process are copied): not in the
  // same task as whatever the caller did with the bytes just before.
  if (behindRequests) await nextTurn();
  const checking = behindRequests ? checkInProcess(bytes, file) : checkInWorker(bytes, file);
  bytes = undefined!; // the check has them: not held by this function for the rest of the load
  return loadChecked(await checking, previous, behindRequests, keepBatches);
}

/**
 * A reload of a large file, as loadConfigBytesOffThread with `behindRequests`, but the checking process reads the
 * file itself: its bytes are never in this process, where they would otherwise sit (as garbage not yet collected,
 * 13 MB for 100,000 consumers) beside that process's peak.
 */
export async function loadConfigFileBehindRequests(file: string, previous?: () => Snapshot | undefined): Promise<LoadedOffThread> {
  await nextTurn(); // forking holds the event loop: a task of its own
  return loadChecked(await checkInProcess(undefined, file), previous, true, false);
}

/** Batches read one at a time, in order: from an array (each let go as it is read), or from a file. */
type BatchSource = Iterable<EntityBatch> | AsyncIterable<EntityBatch>;

/** A check's outcome whose batches are read as they are asked for. */
type CheckedOutcome = Exclude<CheckMessage, { type: 'done' }> | (Omit<CheckedConfig, 'batches'> & { batches: BatchSource });

/** A check's outcome to a loaded config, or its rejection (as loadConfigText throws it). */
async function loadChecked(outcome: CheckedOutcome, previous: (() => Snapshot | undefined) | undefined, behindRequests: boolean, keepBatches: boolean): Promise<LoadedWithBatches> {
  if (outcome.type === 'invalid') throw new ConfigError(outcome.issues);
  if (outcome.type === 'failed') throw new Error(outcome.message);
  if (!keepBatches) return readBatches(outcome.batches, outcome, previous, behindRequests);
  const checked: CheckedConfig = { ...outcome, batches: Array.isArray(outcome.batches) ? outcome.batches : await ownCopies(outcome.batches) };
  const loaded = await readCheckedConfig({ ...checked, batches: [...checked.batches] }, previous, behindRequests);
  return { ...loaded, checked };
}

/** Each batch in a buffer of its own (a file's batches are read into one that each replaces). */
async function ownCopies(batches: BatchSource): Promise<EntityBatch[]> {
  const copies: EntityBatch[] = [];
  for await (const { kind, data } of batches) copies.push({ kind, data: new Uint8Array(data) });
  return copies;
}

/**
 * A checked config's snapshot, its batches read in slices of a few milliseconds with I/O between them, filling
 * the snapshot's lookups as they go; only the rest of the snapshot is built in one piece. Each batch goes from
 * `checked.batches` as it is read. `previous` is asked for when the snapshot is built: what is live then is what
 * unchanged plugin state carries over from. `behindRequests`: each slice is followed by a rest as long as it took.
 */
export function readCheckedConfig(checked: CheckedConfig, previous?: () => Snapshot | undefined, behindRequests = false): Promise<LoadedOffThread> {
  return readBatches(takeEach(checked.batches), checked, previous, behindRequests);
}

/** The batches in order, each let go by the array as it is handed out. */
function* takeEach(batches: EntityBatch[]): Generator<EntityBatch> {
  for (let b = 0; b < batches.length; b++) {
    const batch = batches[b];
    batches[b] = undefined!;
    yield batch;
  }
}

/** readCheckedConfig from any source of batches. */
async function readBatches(batches: BatchSource, { hash, warnings }: { hash: string; warnings: ConfigIssue[] }, previous: (() => Snapshot | undefined) | undefined, behindRequests: boolean): Promise<LoadedOffThread> {
  const entities = emptyEntitySet();
  const indexes = new EntityIndexes();
  const pacer = new Pacer(SLICE_MS, behindRequests);
  for await (const { kind, data } of batches) {
    const items = deserialize(data) as unknown[];
    const list = entities[kind] as unknown[];
    for (let i = 0; i < items.length; i += STEP) {
      const end = Math.min(items.length, i + STEP);
      for (let j = i; j < end; j++) list.push(items[j]);
      indexes.add(kind, items, i, end);
      await pacer.between();
    }
  }
  const snapshot = buildSnapshot(entities, hash, previous?.(), { indexes });
  return { entities, hash, warnings, snapshot };
}

/** Runs the worker on `bytes`; resolves with its one message once it has exited. */
function checkInWorker(bytes: Uint8Array, file: string): Promise<CheckMessage> {
  const own = ownBuffer(bytes);
  return new Promise((resolve, reject) => {
    let outcome: CheckMessage | undefined;
    let failure: Error | undefined;
    const worker = new Worker(WORKER_FILE, { workerData: { bytes: own, file }, transferList: [own.buffer as ArrayBuffer] });
    worker.on('message', (m: CheckMessage) => (outcome = m));
    worker.on('error', (err) => (failure = err));
    worker.on('exit', (code) => {
      if (outcome !== undefined) resolve(outcome);
      else reject(failure ?? new Error(`config worker exited with ${code} before answering`));
    });
  });
}

/**
 * Node flags of the checking process. No V8 background threads (see checkInProcess); `gc()` exposed (see
 * check-process.ts). Its memory adds to the gateway's during a reload, so its heap is kept close to what is alive:
 * checking makes ~2 MB of short-lived garbage per MB of file, which V8 by default lets pile up (a young generation
 * of up to 16 MB per half, an old generation allowed to grow to several times what survived the last collection).
 * A 2 MB young generation and an old one allowed 25% over the last survivors took the peak for 100,000 consumers
 * from ~275–285 MB to ~205–215 MB, for ~20–30% more CPU time (at nice 10, after the requests).
 */
export const CHECK_PROCESS_FLAGS = ['--single-threaded', '--expose-gc', '--max-semi-space-size=2', '--heap-growing-percent=25'];

/**
 * Runs the check in a child process on `bytes` (or on the file, which it then reads itself); resolves with its outcome once it has exited. A process rather
 * than a worker thread, so that all of the check's CPU time comes after the requests served here: it runs at a
 * lower priority with V8's background threads off, where a worker's garbage collection and optimizing compiler
 * would run on threads this process shares at normal priority (about a third of a large check's CPU time). Its
 * batches come through a file (see openBatchFile) where one can be made, as messages otherwise.
 */
async function checkInProcess(bytes: Uint8Array | undefined, file: string): Promise<CheckedOutcome> {
  // The checking process's peak comes on top of this process's memory: what this heap can give back (the pages
  // left sparse by the last collection, a young generation grown by the last load) goes first, marked beside the
  // event loop long before that peak.
  startIncrementalCollection();
  const batchFile = await openBatchFile();
  const args = [file, ...(bytes === undefined ? ['--read'] : []), ...(batchFile === undefined ? [] : ['--batches-fd'])];
  // The batch file is the child's descriptor 4 (BATCH_FILE_FD).
  const stdio: StdioOptions = [bytes === undefined ? 'ignore' : 'pipe', 'ignore', 'ignore', 'ipc', ...(batchFile === undefined ? [] : [batchFile.fd])];
  let child: ChildProcess;
  try {
    child = fork(PROCESS_FILE, args, { execArgv: [...PROCESS_LOADER, ...CHECK_PROCESS_FLAGS], serialization: 'advanced', stdio });
  } catch (err) {
    await batchFile?.close();
    throw err;
  }
  if (child.pid !== undefined) behindServing(child.pid);
  const outcome = checkOutcome(child, batchFile);
  // Written here, outside every closure: once the child has read them, nothing of this load holds the bytes.
  if (bytes !== undefined) child.stdin!.end(bytes);
  bytes = undefined;
  return outcome;
}

/**
 * A file for a checking process's batches, unlinked at once (it goes with its last descriptor, also when this
 * process dies), or undefined where none can be made. Received as messages, the batches were held here whole until
 * the checking process exited (13.5 MB for 100,000 consumers) and left this process's malloc heap 30–50 MB larger
 * (the IPC channel's buffers, freed but kept); from a file they are read one at a time into one buffer, and wait in
 * the page cache meanwhile.
 */
async function openBatchFile(): Promise<FileHandle | undefined> {
  const path = join(tmpdir(), `gateway-batches-${process.pid}-${randomBytes(6).toString('hex')}`);
  let file: FileHandle;
  try {
    file = await open(path, 'wx+', 0o600);
  } catch {
    return undefined;
  }
  try {
    await unlink(path);
    return file;
  } catch {
    await file.close();
    return undefined;
  }
}

/** The checking process's outcome once it has exited, its batches read from `batchFile` if it wrote them there. */
function checkOutcome(child: ChildProcess, batchFile: FileHandle | undefined): Promise<CheckedOutcome> {
  return new Promise((resolve, reject) => {
    const batches: EntityBatch[] = [];
    let outcome: Exclude<CheckProcessMessage, { type: 'batch' }> | undefined;
    let failure: Error | undefined;
    child.on('message', (m: CheckProcessMessage) => {
      if (m.type === 'batch') batches.push(m.batch);
      else outcome = m;
    });
    child.on('error', (err) => (failure = err));
    child.on('exit', (code, signal) => {
      if (outcome?.type === 'done' && outcome.written !== undefined && batchFile !== undefined) {
        const { written, ...done } = outcome;
        return resolve({ ...done, batches: readBatchFile(batchFile, written) });
      }
      // Closed before the outcome is told: whoever hears of it finds nothing of this check left open.
      const settle = () => {
        if (outcome?.type === 'done') resolve({ ...outcome, batches });
        else if (outcome !== undefined) resolve(outcome);
        else reject(failure ?? new Error(`config checking process exited with ${signal ?? code} before answering`));
      };
      if (batchFile === undefined) settle();
      else batchFile.close().then(settle, settle);
    });
    // A process that exits early closes its end: the rest of the bytes have nowhere to go.
    child.stdin?.on('error', () => {});
  });
}

/**
 * The batches a checking process wrote to `file` one after the other, each read when asked for into the same
 * buffer: a batch's bytes are valid until the next is asked for (entities are plain data, which v8.deserialize
 * copies out; a typed array in them would be a view of that buffer). The file is closed once reading ends.
 */
async function* readBatchFile(file: FileHandle, written: WrittenBatch[]): AsyncGenerator<EntityBatch> {
  try {
    const buffer = Buffer.allocUnsafeSlow(written.reduce((most, b) => Math.max(most, b.bytes), 0));
    let position = 0;
    for (const { kind, bytes } of written) {
      for (let got = 0; got < bytes; ) {
        const { bytesRead } = await file.read(buffer, got, bytes - got, position + got);
        if (bytesRead === 0) throw new Error('the checked batches ended before their end');
        got += bytesRead;
      }
      position += bytes;
      yield { kind, data: buffer.subarray(0, bytes) };
    }
  } finally {
    await file.close();
  }
}
