import t from 'tap';
import { loadConfigFile } from '../../src/config/load';
import { readFileSync } from 'node:fs';
import { loadConfigBytesOffThread, loadConfigFileOffThread, readCheckedConfig } from '../../src/config/load-off-thread';
import { ConfigError } from '../../src/config/errors';
import { tempFile } from '../helpers/cli';
import { yaml } from '../helpers/config';

const CONFIG = yaml(
  '_format_version: "3.0"',
  'services:',
  '  - name: s',
  '    url: http://127.0.0.1:9/base',
  '    routes:',
  '      - name: r',
  '        paths: [/r]',
  '        plugins:',
  '          - name: request-termination',
  '            config: {status_code: 418}',
  'consumers:',
  '  - username: alice',
  '    keyauth_credentials: [{key: k-alice}]',
  '    acls: [{group: g}]',
  '  - custom_id: bob',
);

t.test('loads the same entities, hash and snapshot as loadConfigFile', async (t) => {
  const file = tempFile('kong.yml', CONFIG);
  const here = loadConfigFile(file);
  const there = await loadConfigFileOffThread(file);
  t.same(there.entities, here.entities);
  t.equal(there.hash, here.hash);
  t.same(there.warnings, here.warnings);
  t.same([...there.snapshot.routes.keys()], [...here.snapshot.routes.keys()]);
  t.equal(there.snapshot.keyAuthByKey.get('k-alice')?.consumer, here.snapshot.consumersByUsername.get('alice')?.id);
  t.equal(there.snapshot.router.match('GET', undefined, '/r/x', {})?.route.name, 'r');
});

/** 4500 consumers with a key each: more than one batch. */
function largeFile(): string {
  const lines = ['{"_format_version": "3.0", "consumers": ['];
  for (let i = 0; i < 4500; i++) lines.push(`${i ? ',' : ''}{"username": "u${i}", "keyauth_credentials": [{"key": "key-${i}"}]}`);
  lines.push(']}');
  return tempFile('kong.json', lines.join('\n'));
}

t.test('a large file arrives whole, in order', async (t) => {
  const file = largeFile();
  const loaded = await loadConfigFileOffThread(file);
  t.equal(loaded.entities.consumers.length, 4500);
  t.same(loaded.entities.consumers.map((c) => c.username), Array.from({ length: 4500 }, (_, i) => `u${i}`));
  t.equal(loaded.snapshot.keyAuthByKey.size, 4500);
});

t.test('an invalid file is rejected with the same located issues', async (t) => {
  const file = tempFile('kong.yml', CONFIG.replace('status_code: 418', 'status_code: 42'));
  let here: ConfigError | undefined;
  try {
    loadConfigFile(file);
  } catch (err) {
    here = err as ConfigError;
  }
  const there = await loadConfigFileOffThread(file).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(there instanceof ConfigError);
  t.same((there as ConfigError).issues, here!.issues);
  t.match((there as ConfigError).issues[0].message, /between 100 and 599/);
});

t.test('a file that cannot be read is a ConfigError too', async (t) => {
  const missing = `${tempFile('kong.yml', CONFIG)}.missing`;
  const err = await loadConfigFileOffThread(missing).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof ConfigError);
  t.match((err as ConfigError).issues[0].message, /cannot read file/);
});

t.test('behind requests (a reload), the check in a child process gives the same entities, hash and snapshot', async (t) => {
  const file = tempFile('kong.yml', CONFIG);
  const here = loadConfigFile(file);
  const there = await loadConfigBytesOffThread(readFileSync(file), file, undefined, true);
  t.same(there.entities, here.entities);
  t.equal(there.hash, here.hash);
  t.same(there.warnings, here.warnings);
  t.equal(there.snapshot.keyAuthByKey.get('k-alice')?.consumer, here.snapshot.consumersByUsername.get('alice')?.id);
  t.equal(there.snapshot.router.match('GET', undefined, '/r/x', {})?.route.name, 'r');
});

t.test('behind requests, a large file arrives whole, in order', async (t) => {
  const file = largeFile();
  const loaded = await loadConfigBytesOffThread(readFileSync(file), file, undefined, true);
  t.same(loaded.entities.consumers.map((c) => c.username), Array.from({ length: 4500 }, (_, i) => `u${i}`));
  t.equal(loaded.entities.keyauth_credentials.length, 4500);
  t.equal(loaded.snapshot.keyAuthByKey.get('key-4499')?.consumer, loaded.snapshot.consumersByUsername.get('u4499')?.id);
});

t.test('batches kept to hand on are whole afterwards, and read into the same snapshot elsewhere', async (t) => {
  const file = largeFile();
  const here = await loadConfigBytesOffThread(readFileSync(file), file, undefined, true, true);
  const checked = here.checked!;
  t.ok(checked.batches.length > 1 && checked.batches.every((b) => b?.data.byteLength > 0), 'every batch kept');
  t.equal(checked.hash, here.hash);
  const there = await readCheckedConfig(checked, undefined, true);
  t.equal(there.snapshot.hash, here.hash, "the checking side's hash");
  t.same(there.entities, here.entities);
  t.equal(there.snapshot.keyAuthByKey.get('key-4499')?.consumer, there.snapshot.consumersByUsername.get('u4499')?.id);
  t.ok(checked.batches.every((b) => b === undefined), 'read: each batch let go');
  t.equal((await loadConfigBytesOffThread(readFileSync(file), file, undefined, true)).checked, undefined, 'not kept unless asked');
});

t.test('behind requests, an invalid file is rejected with the same located issues', async (t) => {
  const file = tempFile('kong.yml', CONFIG.replace('status_code: 418', 'status_code: 42'));
  const err = await loadConfigBytesOffThread(readFileSync(file), file, undefined, true).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof ConfigError);
  t.match((err as ConfigError).issues[0], { message: /between 100 and 599/, file, line: 10 });
});
