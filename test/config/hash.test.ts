import t from 'tap';
import { configHash, configHashInSlices } from '../../src/config/load';

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
