// A retired snapshot's memory comes back in a process that allocates nothing more: startIncrementalCollection
// starts a full collection that finishes on its own. Run in a plain Node process of its own (the module compiled to
// JavaScript here; a TypeScript loader would keep allocating beside it), which does nothing else: there, nothing but
// that collection frees an old-generation object (no allocation reaches a limit; V8's memory reducer acts only
// seconds after an earlier full collection).
import t from 'tap';
import ts from 'typescript';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempFile } from '../helpers/cli';

const SOURCE = join(__dirname, '..', '..', 'src', 'config', 'collect-soon.ts');
const MODULE = tempFile('collect-soon.js', ts.transpileModule(readFileSync(SOURCE, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText);

// An array too large for the young generation (V8 puts it straight in its large-object space, which only a full
// collection frees), small enough not to start a collection itself, held by a WeakRef only. A second later (any
// collection the process's start began is over), the collection is asked for; reports whether the array was freed
// within 3 s (V8's memory reducer would act 8 s after the start's collection at the earliest), checking every 20 ms.
const CHILD = `
const { startIncrementalCollection } = require(${JSON.stringify(MODULE)});
let retired = new Array(300_000).fill(0);
const ref = new WeakRef(retired);
retired = undefined;
setTimeout(() => {
  if (process.argv.at(-1) === 'start') startIncrementalCollection();
  const since = Date.now();
  const check = setInterval(() => {
    if (ref.deref() === undefined || Date.now() - since > 3000) {
      clearInterval(check);
      console.log(ref.deref() === undefined ? 'freed' : 'alive');
    }
  }, 20);
}, 1000);
`;

function runChild(mode: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => resolve(/^(freed|alive)$/m.exec(out)?.[1] ?? out));
  });
}

t.test('an old-generation object nothing refers to is freed once a collection is asked for, with no more allocation', async (t) => {
  t.equal(await runChild('start'), 'freed');
});
