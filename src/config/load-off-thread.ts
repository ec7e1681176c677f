import { Worker } from 'node:worker_threads';
import { extname, join } from 'node:path';
import { ConfigError, type ConfigIssue } from './errors';
import { buildSnapshot, type Snapshot } from './snapshot';
import type { EntitySet } from './entities';
import type { LoadedConfig } from './load';

/** What the checking worker posts: entity batches, then one outcome. */
export type CheckMessage =
  | { type: 'entities'; kind: keyof EntitySet; items: unknown[] }
  | { type: 'done'; hash: string; warnings: ConfigIssue[] }
  | { type: 'invalid'; issues: ConfigIssue[] }
  | { type: 'failed'; message: string };

export type LoadedOffThread = Omit<LoadedConfig, 'source' | 'router'>;

// The worker runs the same module format as this one (compiled JavaScript, or TypeScript under a loader).
const WORKER_FILE = join(__dirname, `check-worker${extname(__filename)}`);

/**
 * loadConfigFile without holding the event loop: parsing, schema validation and normalization run in a
 * worker thread; the entities arrive in batches (each one a short task on this thread) and only the
 * snapshot is built here. Rejects with ConfigError exactly as loadConfigFile throws it.
 */
export function loadConfigFileOffThread(file: string, previous?: Snapshot): Promise<LoadedOffThread> {
  return new Promise((resolve, reject) => {
    const entities: EntitySet = { services: [], routes: [], consumers: [], plugins: [], keyauth_credentials: [], basicauth_credentials: [], acls: [] };
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    const worker = new Worker(WORKER_FILE, { workerData: { file } });
    worker.on('message', (m: CheckMessage) => {
      if (m.type === 'entities') {
        const list = entities[m.kind] as unknown[];
        for (let i = 0; i < m.items.length; i++) list.push(m.items[i]);
      } else if (m.type === 'done') {
        settle(() => {
          try {
            resolve({ entities, hash: m.hash, warnings: m.warnings, snapshot: buildSnapshot(entities, m.hash, previous) });
          } catch (err) {
            reject(err);
          }
        });
      } else if (m.type === 'invalid') {
        settle(() => reject(new ConfigError(m.issues)));
      } else {
        settle(() => reject(new Error(m.message)));
      }
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`config worker exited with ${code} before answering`))));
  });
}
