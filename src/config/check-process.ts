// Child-process side of a reload's check (loadConfigBytesOffThread, loadConfigFileBehindRequests): reads one file's
// bytes from stdin (its name is the first argument), or from the file itself when `--read` follows, checks them at a
// lower scheduling priority, hands over the entities in batches, then the outcome, and ends. With `--batches-fd`,
// the batches are written one after the other to file descriptor 4 (a file the gateway made and unlinked), and the
// outcome lists their kinds and sizes; without, each goes as a message, serialized only once the one before has
// been written.
import { writeSync } from 'node:fs';
import { checkInBatches, type CheckMessage, type EntityBatch, type WrittenBatch } from './check-batches';
import { behindServing } from './priority';

/** Where the batches go with `--batches-fd`: the descriptor the gateway passed as the fifth of the child's stdio. */
export const BATCH_FILE_FD = 4;

/** What this process sends: each batch in order (unless written to the file), then the outcome. */
export type CheckProcessMessage = { type: 'batch'; batch: EntityBatch } | Exclude<CheckMessage, { type: 'done' }> | (Extract<CheckMessage, { type: 'done' }> & { written?: WrittenBatch[] });

function send(message: CheckProcessMessage): Promise<void> {
  return new Promise((resolve, reject) => process.send!(message, undefined, {}, (err) => (err ? reject(err) : resolve())));
}

function writeAll(fd: number, data: Uint8Array): void {
  for (let at = 0; at < data.byteLength; ) at += writeSync(fd, data, at);
}

async function main(): Promise<void> {
  // The gateway lowered this process's priority as soon as it existed; here too, where it could not.
  behindServing(process.pid);
  const [file, ...flags] = process.argv.slice(2);
  const toFile = flags.includes('--batches-fd');
  // Started with --expose-gc: this process does nothing but check, so collecting where garbage piles up is cheap
  // and keeps its peak memory down (the gateway's memory plus this process's is what a reload costs).
  const outcome = checkInBatches(flags.includes('--read') ? { read: file } : await stdinText(), file, globalThis.gc);
  if (outcome.type === 'done') {
    const written: WrittenBatch[] = [];
    for (const batch of outcome.batches) {
      if (toFile) {
        writeAll(BATCH_FILE_FD, batch.data);
        written.push({ kind: batch.kind, bytes: batch.data.byteLength });
      } else {
        await send({ type: 'batch', batch });
      }
      // A batch's buffer is freed only when its small handle is collected: a young-generation collection.
      globalThis.gc?.({ type: 'minor' });
    }
    await send({ ...outcome, batches: [], ...(toFile ? { written } : {}) });
  } else {
    await send(outcome);
  }
  process.disconnect();
}

async function stdinText(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks.splice(0)).toString('utf8');
}

// The gateway went away: nobody waits for the outcome.
process.on('disconnect', () => process.exit(0));
main().catch(() => process.exit(1));
