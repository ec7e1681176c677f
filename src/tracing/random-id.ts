import { randomFillSync } from 'node:crypto';

// Span and trace ids come out of one pool of random bytes refilled in bulk: one randomBytes() call per id costs a
// buffer and a trip into the crypto library each, several times per traced request.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let used = POOL_SIZE;

/** `bytes` random bytes (at most POOL_SIZE) as lowercase hex: a trace or span id. */
export function randomHex(bytes: number): string {
  if (used + bytes > POOL_SIZE) {
    randomFillSync(pool);
    used = 0;
  }
  const start = used;
  used += bytes;
  return pool.toString('hex', start, used);
}
