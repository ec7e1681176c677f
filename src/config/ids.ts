import crypto from 'node:crypto';

// Fixed namespace so generated ids are the same on every machine and every load.
const NAMESPACE = Buffer.from('fd02801f09574a15a55ac8d9606f30b5', 'hex');

// One-shot hashing (Node ≥ 20.12) over a reused buffer: a large config derives 100,000s of ids.
const hashOnce = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash;
let scratch = Buffer.alloc(1024);
NAMESPACE.copy(scratch);

function sha1(name: string): Buffer {
  if (hashOnce === undefined) return crypto.createHash('sha1').update(NAMESPACE).update(name).digest();
  const need = NAMESPACE.length + Buffer.byteLength(name);
  if (need > scratch.length) {
    scratch = Buffer.alloc(need * 2);
    NAMESPACE.copy(scratch);
  }
  const written = scratch.write(name, NAMESPACE.length, 'utf8');
  return hashOnce('sha1', scratch.subarray(0, NAMESPACE.length + written), 'buffer');
}

/** RFC 4122 version-5 UUID of `name` in this gateway's namespace. */
export function stableId(entity: string, naturalKey: string): string {
  const hash = sha1(`${entity}\0${naturalKey}`);
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
