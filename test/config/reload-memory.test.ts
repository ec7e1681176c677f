// What a reload holds at once. Its memory is the gateway's plus the checking process's, so the two must not pile
// up: when the gateway reads the first checked batch (and starts building the new entities beside the live
// snapshot), the checking process is gone, its heap with it. A structural check, made at the first batch read.
// And what it leaves behind: its batches come through a file, read one at a time and closed once read.
import t from 'tap';
import v8 from 'node:v8';
import { syncBuiltinESMExports } from 'node:module';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigBytesOffThread, loadConfigFileBehindRequests } from '../../src/config/load-off-thread';
import { ConfigError } from '../../src/config/errors';
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

/** What `observe` saw when this process read a checked batch for the first time (v8.deserialize wrapped for the test). */
function onFirstBatchRead<T>(t: Tap.Test, observe: () => T): () => T | undefined {
  const original = v8.deserialize;
  let seen: T | undefined;
  v8.deserialize = (data: NodeJS.TypedArray) => {
    seen ??= observe();
    return original(data);
  };
  syncBuiltinESMExports();
  t.teardown(() => {
    v8.deserialize = original;
    syncBuiltinESMExports();
  });
  return () => seen;
}

function largeFile(): string {
  const lines = ['{"_format_version": "3.0", "consumers": ['];
  for (let i = 0; i < 4500; i++) lines.push(`${i ? ',' : ''}{"username": "u${i}", "keyauth_credentials": [{"key": "key-${i}"}]}`);
  lines.push(']}');
  return tempFile('kong.json', lines.join('\n'));
}

t.test('a reload reads its first batch with the checking process gone', { skip: process.platform !== 'linux' && 'needs /proc', timeout: 120_000 }, async (t) => {
  const file = largeFile();
  const atFirstRead = onFirstBatchRead(t, checkingChildren);
  const loaded = await loadConfigBytesOffThread(readFileSync(file), file, undefined, true);
  t.equal(loaded.entities.consumers.length, 4500);
  t.ok(atFirstRead(), 'the batches were read here');
  t.same(atFirstRead(), [], 'no checking process alive');
});

/** This process's open descriptors that name a batch file (unlinked: "(deleted)"). */
function openBatchFiles(): string[] {
  const found: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.includes('gateway-batches-')) found.push(target);
    } catch {
      // closed meanwhile (the descriptor of the listing itself)
    }
  }
  return found;
}

t.test('a reload reads its batches from an unlinked file, closed once read', { skip: process.platform !== 'linux' && 'needs /proc', timeout: 120_000 }, async (t) => {
  const file = largeFile();
  const atFirstRead = onFirstBatchRead(t, openBatchFiles);
  const loaded = await loadConfigFileBehindRequests(file);
  t.equal(loaded.entities.consumers.length, 4500);
  t.equal(loaded.snapshot.keyAuthByKey.get('key-4499')?.consumer, loaded.snapshot.consumersByUsername.get('u4499')?.id);
  t.equal(atFirstRead()?.length, 1, 'one batch file open while reading');
  t.match(atFirstRead()?.[0], /\(deleted\)$/, 'already unlinked');
  t.same(openBatchFiles(), [], 'closed once read');
  t.same(readdirSync(tmpdir()).filter((name) => name.startsWith('gateway-batches-')), [], 'nothing left in the temporary directory');
});

t.test('a rejected reload closes its batch file too', { skip: process.platform !== 'linux' && 'needs /proc', timeout: 120_000 }, async (t) => {
  const file = tempFile('kong.json', '{"_format_version": "3.0", "consumers": [{"username": 42}]}');
  await t.rejects(loadConfigFileBehindRequests(file), ConfigError);
  t.same(openBatchFiles(), []);
});

t.test('where no batch file can be made, the batches come as messages', { timeout: 120_000 }, async (t) => {
  const file = largeFile();
  const tmp = process.env.TMPDIR;
  process.env.TMPDIR = join(tmpdir(), 'gateway-test-no-such-directory', 'below');
  t.teardown(() => {
    if (tmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmp;
  });
  const loaded = await loadConfigFileBehindRequests(file);
  t.same(
    loaded.entities.consumers.map((c) => c.username),
    Array.from({ length: 4500 }, (_, i) => `u${i}`),
  );
  t.equal(loaded.snapshot.keyAuthByKey.get('key-4499')?.consumer, loaded.snapshot.consumersByUsername.get('u4499')?.id);
});
