import { createHash } from 'node:crypto';

// Fixed namespace so generated ids are the same on every machine and every load.
const NAMESPACE = Buffer.from('fd02801f09574a15a55ac8d9606f30b5', 'hex');

/** RFC 4122 version-5 UUID of `name` in this gateway's namespace. */
export function stableId(entity: string, naturalKey: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(`${entity}\0${naturalKey}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
