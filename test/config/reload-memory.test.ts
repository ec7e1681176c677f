// What a reload holds at once. Its memory is the gateway's plus the checking process's, so the two must not pile
// up: when the gateway reads the first checked batch (and starts building the new entities beside the live
// snapshot), the checking process is gone, its heap with it. A structural check, made at the first batch read.
import t from 'tap';
import v8 from 'node:v8';
import { syncBuiltinESMExports } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { loadConfigBytesOffThread } from '../../src/config/load-off-thread';
import { tempFile } from '../helpers/cli';

/** The checking processes this process has running now (children whose command line names check-process). */
function checkingChildren(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('check-process')) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function largeFile(): string {
  const lines = ['{"_format_version": "3.0", "consumers": ['];
  for (let i = 0; i < 4500; i++) lines.push(`${i ? ',' : ''}{"username": "u${i}", "keyauth_credentials": [{"key": "key-${i}"}]}`);
  lines.push(']}');
  return tempFile('kong.json', lines.join('\n'));
}

t.test('a reload reads its first batch with the checking process gone', { skip: process.platform !== 'linux' && 'needs /proc', timeout: 120_000 }, async (t) => {
  const file = largeFile();
  const original = v8.deserialize;
  let atFirstRead: number[] | undefined;
  v8.deserialize = (data: NodeJS.TypedArray) => {
    atFirstRead ??= checkingChildren();
    return original(data);
  };
  syncBuiltinESMExports();
  t.teardown(() => {
    v8.deserialize = original;
    syncBuiltinESMExports();
  });
  const loaded = await loadConfigBytesOffThread(readFileSync(file), file, undefined, true);
  t.equal(loaded.entities.consumers.length, 4500);
  t.ok(atFirstRead, 'the batches were read here');
  t.same(atFirstRead, [], 'no checking process alive');
});
