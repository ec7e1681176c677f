// Child-process side of a reload's check (loadConfigBytesOffThread, loadConfigFileBehindRequests): reads one file's
// bytes from stdin (its name is the first argument), or from the file itself when the second is `--read`, checks
// them at a lower scheduling priority, sends the entities one batch per message, each serialized only once the one
// before has been written, then the outcome, and ends.
import { checkInBatches, type CheckMessage, type EntityBatch } from './check-batches';
import { behindServing } from './priority';

/** What this process sends: each batch in order, then the outcome (with its batches already sent). */
export type CheckProcessMessage = { type: 'batch'; batch: EntityBatch } | CheckMessage;

function send(message: CheckProcessMessage): Promise<void> {
  return new Promise((resolve, reject) => process.send!(message, undefined, {}, (err) => (err ? reject(err) : resolve())));
}

async function main(): Promise<void> {
  // The gateway lowered this process's priority as soon as it existed; here too, where it could not.
  behindServing(process.pid);
  const file = process.argv[2];
  // Started with --expose-gc: this process does nothing but check, so collecting where garbage piles up is cheap
  // and keeps its peak memory down (the gateway's memory plus this process's is what a reload costs).
  const outcome = checkInBatches(process.argv[3] === '--read' ? { read: file } : await stdinText(), file, globalThis.gc);
  if (outcome.type === 'done') {
    for (const batch of outcome.batches) {
      await send({ type: 'batch', batch });
      // A sent batch's buffer is freed only when its small handle is collected: a young-generation collection.
      globalThis.gc?.({ type: 'minor' });
    }
    await send({ ...outcome, batches: [] });
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
