import t from 'tap';
import { createHash } from 'node:crypto';
import { stableId } from '../../src/config/ids';

const NAMESPACE = Buffer.from('fd02801f09574a15a55ac8d9606f30b5', 'hex');

/** The same UUID computed the plain way, with node:crypto. */
function reference(entity: string, key: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(`${entity}\0${key}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

t.test('stable ids are the version-5 UUIDs node:crypto gives, for names of every length', async (t) => {
  // Around the 64-byte block edges (one block holds up to 55 bytes of input) and past the first buffer size.
  for (let length = 0; length < 300; length++) {
    const key = 'k'.repeat(length);
    t.equal(stableId('consumers', key), reference('consumers', key), `a name of ${length} characters`);
  }
  t.equal(stableId('routes', 'é日🚀'.repeat(200)), reference('routes', 'é日🚀'.repeat(200)), 'multi-byte characters, several kilobytes');
});

t.test('ids already handed out do not change', async (t) => {
  t.equal(stableId('consumers', 'consumer-0'), 'dc782c68-fbe3-57e3-8336-8075446f3349');
  t.equal(stableId('consumers', 'consumer-1999'), '16af7f8d-d265-559f-bb73-1895baa42aa5');
});
