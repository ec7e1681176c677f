import type { Snapshot } from '../config/snapshot';
import { decode } from '../plugins/key-auth/params';

export const REDACTED = '[REDACTED]';

const EMPTY: ReadonlySet<string> = new Set();
const namesBySnapshot = new WeakMap<Snapshot, ReadonlySet<string>>();
let last: Snapshot | undefined;
let lastNames: ReadonlySet<string> = EMPTY;

/**
 * Every key-auth `key_names` and jwt `uri_param_names` entry in the config, disabled plugins included: query parameters whose values are
 * never logged, whichever route a request took (or none).
 */
export function secretQueryNames(snapshot: Snapshot): ReadonlySet<string> {
  if (snapshot === last) return lastNames;
  let names = namesBySnapshot.get(snapshot);
  if (names === undefined) {
    const found = new Set<string>();
    for (const p of snapshot.entities.plugins) {
      if (p.name === 'key-auth') for (const n of (p.config as { key_names: string[] }).key_names) found.add(n);
      if (p.name === 'jwt') for (const n of (p.config as { uri_param_names: string[] }).uri_param_names) found.add(n);
    }
    names = found.size === 0 ? EMPTY : found;
    namesBySnapshot.set(snapshot, names);
  }
  last = snapshot;
  lastNames = names;
  return names;
}

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * The request target for a log line: without the scheme and authority of an absolute-form target (they may hold
 * `user:password@`), and with the value of each query parameter named in `secret` replaced by `[REDACTED]`
 * (names compared decoded, as key-auth reads them).
 */
export function redactTarget(target: string, secret: ReadonlySet<string>): string {
  if (target.charCodeAt(0) !== 47 /* / */) {
    const m = ABSOLUTE_FORM.exec(target);
    if (m !== null) target = target.slice(m[0].length) || '/';
  }
  const q = target.indexOf('?');
  if (q === -1 || secret.size === 0) return target;
  const pairs = target.slice(q + 1).split('&');
  let changed = false;
  for (let i = 0; i < pairs.length; i++) {
    const eq = pairs[i].indexOf('=');
    if (eq === -1 || !secret.has(decode(pairs[i].slice(0, eq)))) continue;
    pairs[i] = `${pairs[i].slice(0, eq + 1)}${REDACTED}`;
    changed = true;
  }
  return changed ? `${target.slice(0, q + 1)}${pairs.join('&')}` : target;
}
