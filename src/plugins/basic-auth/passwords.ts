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
}

// The hash each plaintext credential entity got, for the life of its snapshot: verified against, shown by the
// Admin API and exported, and kept by the next snapshot while the plaintext is unchanged.
const plaintextHashes = new WeakMap<BasicAuthCredentialEntity, string>();

/** The bcrypt hash a credential entity is verified against: its own, or the one its plaintext got at load. */
export function storedHash(e: BasicAuthCredentialEntity): string {
  if (isBcryptHash(e.password)) return e.password;
  let hash = plaintextHashes.get(e);
  if (hash === undefined) {
    hash = hashPassword(e.password, PLAINTEXT_HASH_COST);
    plaintextHashes.set(e, hash);
  }
  return hash;
}

/** A bcrypt hash's cost, the two digits after `$2b$`. */
function costOf(hash: string): number {
  return Number(hash.slice(4, 6));
}

// The salt and digest of a decoy hash (see decoyFor): a real bcrypt output, so that checking a password against
// it does all of bcrypt's work, as a stored hash does. Nothing is known to match it; no match would count anyway.
const DECOY_TAIL = '.Q/OB0rb899xffJRmHQcBedhtU9JTHtBcumEwEww1xf0.PKdrQ/Pi';

/**
 * The credential an unknown username is checked against, so that it costs what a known one does and response
 * times do not tell which usernames exist: a decoy hash of the cost most stored hashes have (the higher one on a
 * tie). A username whose hash has another cost still answers in its own time: give every hash the same cost.
 */
function decoyFor(credentials: Iterable<BasicAuthCredentialEntity>): BasicAuthCredentialEntity {
  const counts = new Map<number, number>();
  let cost = PLAINTEXT_HASH_COST;
  let most = 0;
  for (const credential of credentials) {
    const c = costOf(credential.password);
    const n = (counts.get(c) ?? 0) + 1;
    counts.set(c, n);
    if (n > most || (n === most && c > cost)) [cost, most] = [c, n];
  }
  const password = `$2b$${String(cost).padStart(2, '0')}$${DECOY_TAIL}`;
  return Object.freeze({ id: '', consumer: '', username: '', password });
}

export interface CredentialIndex {
  /** Every password a bcrypt hash. */
  readonly byUsername: Map<string, BasicAuthCredentialEntity>;
  /** What an unknown username is checked against (decoyFor). */
  readonly decoy: BasicAuthCredentialEntity;
}

/**
 * The credential index by username with every password a bcrypt hash. A plaintext password unchanged since the
 * previous snapshot keeps that snapshot's hash, so a reload does not hash it again. Credentials are new objects
 * each time: verification results cached on them die with the snapshot.
 */
export function indexCredentials(list: readonly BasicAuthCredentialEntity[], previous?: PreviousCredentials): CredentialIndex {
  const earlier = new Map<string, BasicAuthCredentialEntity>();
  for (const e of previous?.entities.basicauth_credentials ?? []) {
    if (plaintextHashes.has(e)) earlier.set(e.id, e);
  }
  const byUsername = new Map<string, BasicAuthCredentialEntity>();
  for (const e of list) {
    const prev = earlier.get(e.id);
    if (prev !== undefined && prev.password === e.password) plaintextHashes.set(e, plaintextHashes.get(prev)!);
    byUsername.set(e.username, Object.freeze({ ...e, password: storedHash(e) }));
  }
  return { byUsername, decoy: decoyFor(byUsername.values()) };
}
