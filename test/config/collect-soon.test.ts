// A retired snapshot's memory comes back in a process that allocates nothing more: startIncrementalCollection
// starts a full collection that finishes on its own. Run in a process of its own, which does nothing else: there,
// nothing but that collection frees an old-generation object (no allocation reaches a limit; V8's memory reducer
// acts only seconds after an earlier full collection).
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const MODULE = join(__dirname, '..', '..', 'src', 'config', 'collect-soon.ts');

// An array too large for the young generation (V8 puts it straight in the old one, which only a full collection
// frees), held by a WeakRef only; reports whether it was freed within `waitMs`, checking every 20 ms.
const CHILD = `
const { startIncrementalCollection } = require(${JSON.stringify(MODULE)});
let graph = new Array(2_000_000).fill(0).map((_, i) => ({ i }));
const ref = new WeakRef(graph);
graph = undefined;
setTimeout(() => {
  if (process.argv.at(-1) === 'start') startIncrementalCollection();
  const since = Date.now();
  const check = setInterval(() => {
    if (ref.deref() === undefined || Date.now() - since > 5000) {
      clearInterval(check);
      console.log(ref.deref() === undefined ? 'freed' : 'alive');
    }
  }, 20);
}, 100);
`;

function runChild(mode: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, '-e', CHILD, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => resolve(out.trim()));
  });
}

t.test('an old-generation graph nothing refers to is freed once a collection is asked for, with no more allocation', async (t) => {
  t.equal(await runChild('start'), 'freed');
});
