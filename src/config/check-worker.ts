// Worker-thread side of loadConfigBytesOffThread at a start: checks one file's bytes, then posts the entities
// serialized in batches (moved, not copied) and ends, so that its heap is gone before they are read.
import { parentPort, workerData } from 'node:worker_threads';
import { checkInBatches } from './check-batches';

const { bytes, file } = workerData as { bytes: Uint8Array; file: string };
const outcome = checkInBatches(bytes, file);
// Each batch has a buffer of its own: they move to the main thread without a copy.
parentPort!.postMessage(outcome, outcome.type === 'done' ? outcome.batches.map((b) => b.data.buffer as ArrayBuffer) : []);
