import bcrypt from 'bcryptjs';
import type { BasicAuthCredentialEntity, EntitySet } from '../../config/entities';

/** `$2a$`, `$2b$` or `$2y$`, a two-digit cost, then 53 characters of salt and hash. */
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
const BCRYPT_PREFIX = /^\$2[aby]\$/;

export function isBcryptHash(password: string): boolean {
  return BCRYPT_HASH.test(password);
}

/** Starts like a bcrypt hash: a value that does not parse as one is a broken hash, not a plaintext password. */
export function looksLikeBcryptHash(password: string): boolean {
  return BCRYPT_PREFIX.test(password);
}

/**
 * The cost plaintext passwords from the file are hashed with when a snapshot is built. The file holds the
 * password in clear, so a high cost would protect nothing it does not already expose, while costing ~75 ms per
 * credential (seconds for a hundred) on every start. Hashing keeps one verification path for every credential
 * and keeps plaintext out of the credential index; cost 4 makes that ~1.5 ms per credential.
 */
export const PLAINTEXT_HASH_COST = 4;

/** The cost of `gateway hash-password` unless told otherwise: bcrypt's usual default. */
export const DEFAULT_HASH_COST = 10;

export function hashPassword(password: string, cost: number): string {
  return bcrypt.hashSync(password, cost);
}

interface PreviousCredentials {
  readonly entities: EntitySet;
  readonly basicAuthByUsername: ReadonlyMap<string, BasicAuthCredentialEntity>;
}

/**
 * The credential index by username with every password a bcrypt hash. A plaintext password unchanged since the
 * previous snapshot keeps that snapshot's hash, so a reload does not hash it again. Credentials are new objects
 * each time: verification results cached on them die with the snapshot.
 */
export function indexCredentials(list: readonly BasicAuthCredentialEntity[], previous?: PreviousCredentials): Map<string, BasicAuthCredentialEntity> {
  const earlier = new Map<string, { plaintext: string; hash: string }>();
  for (const e of previous?.entities.basicauth_credentials ?? []) {
    const hash = isBcryptHash(e.password) ? undefined : previous!.basicAuthByUsername.get(e.username)?.password;
    if (hash !== undefined) earlier.set(e.id, { plaintext: e.password, hash });
  }
  const out = new Map<string, BasicAuthCredentialEntity>();
  for (const e of list) {
    let password = e.password;
    if (!isBcryptHash(password)) {
      const prev = earlier.get(e.id);
      password = prev !== undefined && prev.plaintext === password ? prev.hash : hashPassword(password, PLAINTEXT_HASH_COST);
    }
    out.set(e.username, Object.freeze({ ...e, password }));
  }
  return out;
}
