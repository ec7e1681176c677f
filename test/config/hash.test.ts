import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configHash, configHashInSlices } from '../../src/config/load';
import { hashConfigFile, readConfigBytes } from '../../src/config/source';
import type { ConfigError } from '../../src/config/errors';

t.test('hashing in slices gives the same hash as in one call, across slice boundaries', async (t) => {
  for (const size of [0, 1, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 17]) {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
    t.equal(await configHashInSlices(bytes), configHash(bytes), `${size} bytes`);
  }
});

t.test('hashing a large buffer lets the event loop turn between slices', async (t) => {
  const hashing = configHashInSlices(new Uint8Array(8 * 1024 * 1024));
  let ran = false;
  setImmediate(() => (ran = true));
  await hashing;
  t.ok(ran, 'an immediate queued after the hash started ran before it ended');
});

t.test('hashing a file gives the hash and size of its bytes, across read pieces', async (t) => {
  for (const size of [0, 1, 1024 * 1024, 2 * 1024 * 1024 + 5]) {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const file = join(mkdtempSync(join(tmpdir(), 'gateway-test-')), 'kong.yml');
    writeFileSync(file, bytes);
    t.same(await hashConfigFile(file), { hash: configHash(bytes), size }, `${size} bytes`);
  }
});

t.test('hashing a file refuses what reading it refuses, with the same errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-test-'));
  for (const file of [dir, join(dir, 'missing.yml')]) {
    const reading = await readConfigBytes(file).catch((err: ConfigError) => err.issues);
    t.ok(Array.isArray(reading), 'reading refuses it');
    t.same(await hashConfigFile(file).catch((err: ConfigError) => err.issues), reading);
  }
});
