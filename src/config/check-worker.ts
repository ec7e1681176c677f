// Worker-thread side of loadConfigBytesOffThread at a start: checks one file's bytes, then posts the entities
// serialized in batches (moved, not copied) and ends, so that its heap is gone before they are read.
import { parentPort, workerData } from 'node:worker_threads';
import { checkInBatches, type CheckMessage } from './check-batches';

/** The file's text; its bytes are let go (workerData would hold them for as long as this thread runs). */
function takeText(data: { bytes?: Uint8Array }): string {
  const bytes = data.bytes!;
  data.bytes = undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

const outcome = checkInBatches(takeText(workerData), (workerData as { file: string }).file);
const message: CheckMessage = outcome.type === 'done' ? { ...outcome, batches: [...outcome.batches] } : outcome;
// Each batch has a buffer of its own: they move to the main thread without a copy.
parentPort!.postMessage(message, message.type === 'done' ? message.batches.map((b) => b.data.buffer as ArrayBuffer) : []);
