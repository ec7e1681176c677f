import { hash, randomBytes } from 'node:crypto';
import type { AuthenticatedCredential } from '../../proxy/context';

/** The directory refused the credentials. */
export const REFUSED = Symbol('refused');

export type Verdict = AuthenticatedCredential | typeof REFUSED;

interface Entry {
  readonly verdict: Verdict;
  readonly expires: number;
}

// Keys are a keyed digest of username and password, never the password: the key lives only in this process's
// memory (as basic-auth's cache of successes).
const SECRET = randomBytes(32).toString('hex');

/** The cache key of a username and password; the username holds no ':' (it ends at the first one). */
export function bindKey(username: string, password: string): string {
  return hash('sha256', `${SECRET}${username}:${password}`, 'base64');
}

// Bounds memory when clients send ever new passwords; the oldest entry goes first.
const MAX_ENTRIES = 10_000;

/**
 * Binds' outcomes, good and refused, for cache_ttl (as Kong's ldap-auth caches both): a password changed at the
 * directory is seen once the entry expires. One cache per compiled plugin instance, so a reload forgets it.
 * Outages are never remembered.
 */
export class BindCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs: number) {}

  get(key: string, now: number): Verdict | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expires > now) return e.verdict;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, verdict: Verdict, now: number): void {
    if (!this.entries.delete(key) && this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { verdict, expires: now + this.ttlMs });
  }
}
