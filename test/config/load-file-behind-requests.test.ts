// A reload of a large file without a pool: the checking process reads the file itself (the gateway only hashes it).
import t from 'tap';
import { loadConfigFile } from '../../src/config/load';
import { loadConfigFileBehindRequests } from '../../src/config/load-off-thread';
import { ConfigError } from '../../src/config/errors';
import { tempFile } from '../helpers/cli';

/** 4500 consumers with a key each: more than one batch. */
function largeFile(): string {
  const lines = ['{"_format_version": "3.0", "consumers": ['];
  for (let i = 0; i < 4500; i++) lines.push(`${i ? ',' : ''}{"username": "u${i}", "keyauth_credentials": [{"key": "key-${i}"}]}`);
  lines.push(']}');
  return tempFile('kong.json', lines.join('\n'));
}

t.test('a checking process that reads the file itself gives the config loadConfigFile gives', async (t) => {
  const file = largeFile();
  const here = loadConfigFile(file);
  const there = await loadConfigFileBehindRequests(file);
  t.same(there.entities, here.entities);
  t.equal(there.hash, here.hash);
  t.same(there.warnings, here.warnings);
  t.equal(there.snapshot.keyAuthByKey.get('key-4499')?.consumer, there.snapshot.consumersByUsername.get('u4499')?.id);
});

t.test('a file it cannot read, or an invalid one: rejected with the located issues loadConfigFile gives', async (t) => {
  const invalid = tempFile('kong.yml', '_format_version: "3.0"\nconsumers:\n  - username: a\n    keyauth_credentials: [{key: 5}]\n');
  const missing = `${invalid}.missing`;
  for (const file of [invalid, missing]) {
    let here: ConfigError | undefined;
    try {
      loadConfigFile(file);
    } catch (err) {
      here = err as ConfigError;
    }
    const there = await loadConfigFileBehindRequests(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(there instanceof ConfigError, file);
    t.same((there as ConfigError).issues, here!.issues);
  }
});
