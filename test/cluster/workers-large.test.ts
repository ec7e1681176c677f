// `gateway start --workers 2` on a config large enough to be checked away from the event loop: the primary
// checks it once and its workers build their snapshots from what it checked, at start, on a reload and when a
// worker is replaced.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { request } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { waitFor, writeByRename } from '../helpers/wait';
import { keyedConsumers } from '../helpers/config';
import { OFF_THREAD_BYTES } from '../../src/gateway';

interface WorkerView {
  id: number;
  pid: number;
  configuration_hash?: string;
  total_requests?: number;
}

let gw: RunningGateway;
const status = async () => (await request(gw.adminPort!, '/status')).json();

/** The answers to `key` on `n` connections of their own, a few at a time (node:cluster spreads them over the workers). */
async function ask(key: string, n = 8): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < n; i += 4) {
    const replies = await Promise.all([0, 1, 2, 3].map(() => request(gw.proxyPort, '/', { headers: { apikey: key } })));
    answers.push(...replies.map((r) => (r.status === 200 ? r.body : String(r.status))));
  }
  return answers;
}

/** The pids of `parent`'s children whose command line runs the config checking process. */
function checkingChildren(parent: number): number[] {
  let children: string;
  try {
    children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8');
  } catch {
    return [];
  }
  return children
    .split(' ')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('check-process');
      } catch {
        return false;
      }
    });
}

t.before(async () => {
  const config = keyedConsumers('v1', 6000);
  if (Buffer.byteLength(config) < OFF_THREAD_BYTES) throw new Error('the config must be checked away from the event loop');
  gw = await startGateway(config, { args: ['--workers', '2', '--access-log', 'off'], startTimeoutMs: 60_000 });
});
t.teardown(() => gw.stop());

t.test('both workers serve a large config from the start', async (t) => {
  t.same(new Set(await ask('v1-key-5999', 16)), new Set(['v1']));
  t.same(new Set(await ask('v2-key-0')), new Set(['401']));
  const s = await status();
  t.equal(s.workers.length, 2);
  t.ok(
    s.workers.every((w: WorkerView) => w.total_requests! > 0 && w.configuration_hash === s.configuration_hash),
    'each worker served, on the primary\'s configuration_hash',
  );
});

t.test('a reload is checked in one process, the primary\'s; both workers then serve the new config', async (t) => {
  const primary = gw.proc.pid!;
  const workerPids: number[] = (await status()).workers.map((w: WorkerView) => w.pid);
  const seen = new Map<number, Set<number>>([primary, ...workerPids].map((pid) => [pid, new Set()]));
  let watching = true;
  const watch = (async () => {
    while (watching) {
      for (const [parent, found] of seen) for (const child of checkingChildren(parent)) found.add(child);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();

  const before = (await status()).configuration_hash;
  // Keys changed, and 1000 consumers fewer.
  writeByRename(gw.configFile, keyedConsumers('v2', 5000));
  const hash = await waitFor(
    'the new config on every worker',
    async () => {
      const s = await status();
      const fresh = s.configuration_hash !== before && s.last_reload?.accepted;
      return fresh && s.workers.every((w: WorkerView) => w.configuration_hash === s.configuration_hash) ? s.configuration_hash : undefined;
    },
    60_000,
  );
  watching = false;
  await watch;

  // Seeing the primary's checking process is what shows the watch could have seen the workers' too.
  t.equal(seen.get(primary)!.size, 1, 'the primary checked the file in one child process');
  for (const pid of workerPids) t.equal(seen.get(pid)!.size, 0, `worker ${pid} checked nothing`);
  t.same(new Set(await ask('v2-key-4999', 16)), new Set(['v2']), 'a new key answers on every connection');
  t.same(new Set(await ask('v1-key-0', 16)), new Set(['401']), 'an old key is gone');
  t.same(new Set(await ask('v2-key-5500')), new Set(['401']), 'a removed consumer is gone');
  t.ok((await status()).workers.every((w: WorkerView) => w.configuration_hash === hash));
});

t.test('a replaced worker starts on the live config', async (t) => {
  const before: WorkerView[] = (await status()).workers;
  const hash = (await status()).configuration_hash;
  process.kill(before[0].pid, 'SIGKILL');
  await waitFor(
    'a new worker on the live config',
    async () => {
      // The killed worker may still hold a connection the Admin API was asked on: reset, asked again.
      const ws: WorkerView[] | undefined = await status().then((s) => s.workers, () => undefined);
      return ws !== undefined && ws[0].pid !== before[0].pid && ws[0].configuration_hash === hash ? ws : undefined;
    },
    60_000,
  );
  t.same(new Set(await ask('v2-key-1', 16)), new Set(['v2']));
});
