// Worker-thread side of loadConfigFileOffThread: reads, parses, validates and normalizes one file, then posts
// the entities in small batches, so that receiving them never holds the main thread for long.
import { parentPort, workerData } from 'node:worker_threads';
import { checkConfigFile } from './load';
import { ConfigError } from './errors';
import type { EntitySet } from './entities';
import type { CheckMessage } from './load-off-thread';

const BATCH = 2000;

function post(message: CheckMessage): void {
  parentPort!.postMessage(message);
}

try {
  const checked = checkConfigFile((workerData as { file: string }).file);
  for (const kind of Object.keys(checked.entities) as Array<keyof EntitySet>) {
    const list = checked.entities[kind];
    for (let i = 0; i < list.length; i += BATCH) post({ type: 'entities', kind, items: list.slice(i, i + BATCH) });
  }
  post({ type: 'done', hash: checked.hash, warnings: checked.warnings });
} catch (err) {
  if (err instanceof ConfigError) post({ type: 'invalid', issues: err.issues });
  else post({ type: 'failed', message: (err as Error).message });
}
