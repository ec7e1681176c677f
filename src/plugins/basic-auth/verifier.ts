import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { BasicAuthCredentialEntity } from '../../config/entities';
import { bcryptPool, type BcryptPool } from './bcrypt-pool';

/** No capacity to check the password now. */
export const BUSY = Symbol('busy');

export type Verification = boolean | Promise<boolean> | typeof BUSY;

// Successful checks are remembered as a keyed digest of (stored hash, given password), never the password:
// the key lives only in this process's memory. One entry per credential object, and credential objects belong
// to one snapshot, so a reload or a changed password starts afresh. A secret-prefixed one-shot SHA-256 rather
// than an HMAC: a third of the cost per request, and the digest never leaves the process, so length extension
// has nothing to work on.
const SECRET = randomBytes(32).toString('hex');
const verified = new WeakMap<BasicAuthCredentialEntity, Buffer>();
// Checks in progress by digest: concurrent requests with the same credential and password share one bcrypt.
const inflight = new Map<string, Promise<boolean>>();

function remember(credential: BasicAuthCredentialEntity, digest: Buffer, ok: boolean): boolean {
  if (ok) verified.set(credential, digest);
  return ok;
}

/**
 * Authorization headers that were verified, remembered per snapshot's credential index as a keyed digest of the
 * whole header value (never the header), so that a client that sends the same header again costs one digest and
 * one map lookup: no parsing, no base64 decoding, no second digest. At most one header per credential (a new one
 * replaces the last), so valid credentials cannot grow it past the number of credentials. A reload builds a new
 * index, and with it an empty set of remembered headers.
 */
export class RememberedHeaders {
  private readonly byDigest = new Map<string, BasicAuthCredentialEntity>();
  private readonly digestOf = new Map<BasicAuthCredentialEntity, string>();

  /** The keyed digest a header value is remembered under. */
  digest(header: string): string {
    return hash('sha256', HEADER_KEY + header, 'base64');
  }

  /** The credential a header with this digest was verified for, if any. */
  get(digest: string): BasicAuthCredentialEntity | undefined {
    return this.byDigest.get(digest);
  }

  /** Remembers that the header with this digest holds the credential's right password. */
  remember(digest: string, credential: BasicAuthCredentialEntity): void {
    const previous = this.digestOf.get(credential);
    if (previous === digest) return;
    if (previous !== undefined) this.byDigest.delete(previous);
    this.digestOf.set(credential, digest);
    this.byDigest.set(digest, credential);
  }
}

// 128 bits, as 24 characters: with a usual header the input fits SHA-256's one 64-byte block.
const HEADER_KEY = randomBytes(16).toString('base64');
const rememberedHeaders = new WeakMap<ReadonlyMap<string, BasicAuthCredentialEntity>, RememberedHeaders>();

/** The remembered headers of one snapshot's credential index. */
export function rememberedFor(users: ReadonlyMap<string, BasicAuthCredentialEntity>): RememberedHeaders {
  let remembered = rememberedHeaders.get(users);
  if (remembered === undefined) {
    remembered = new RememberedHeaders();
    rememberedHeaders.set(users, remembered);
  }
  return remembered;
}

/** Whether `password` is the credential's: at once from the cache of successes, else from a bcrypt worker. */
export function verifyPassword(credential: BasicAuthCredentialEntity, password: string, pool: BcryptPool = bcryptPool): Verification {
  const digest = hash('sha256', SECRET + credential.password + '\0' + password, 'buffer');
  const known = verified.get(credential);
  if (known !== undefined && timingSafeEqual(known, digest)) return true;
  const key = digest.toString('base64');
  let check = inflight.get(key);
  if (check === undefined) {
    const job = pool.compare(password, credential.password);
    if (job === undefined) return BUSY;
    check = job.finally(() => inflight.delete(key));
    inflight.set(key, check);
  }
  return check.then((ok) => remember(credential, digest, ok));
}
