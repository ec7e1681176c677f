import type { EntitySet } from '../config/entities';

export const MASK = '***';

/** Config fields that hold a secret (rate-limiting's redis.password, redis_password, …). */
const SECRET_FIELD = /password|secret|token/i;

/**
 * The secrets a request carries, by where the config says credentials are read: Authorization and
 * Proxy-Authorization (and the password of a Basic one, or of one in an ldap-auth `header_type`), every header
 * or query parameter named in a key-auth `key_names`, and the headers, cookies and query parameters a jwt plugin
 * reads tokens from.
 */
export function requestSecrets(entities: EntitySet, headers: ReadonlyArray<readonly [string, string]>, query: string): string[] {
  const keyNames = new Set<string>();
  const tokenHeaders = new Set<string>();
  const tokenCookies = new Set<string>();
  const passwordSchemes = new Set(['basic']);
  for (const p of entities.plugins) {
    if (p.name === 'key-auth') for (const n of p.config.key_names as string[]) keyNames.add(n);
    if (p.name === 'ldap-auth') passwordSchemes.add((p.config.header_type as string).toLowerCase());
    if (p.name !== 'jwt') continue;
    for (const n of p.config.uri_param_names as string[]) keyNames.add(n);
    for (const n of p.config.header_names as string[]) tokenHeaders.add(n.toLowerCase().replace(/_/g, '-'));
    for (const n of p.config.cookie_names as string[]) tokenCookies.add(n.toLowerCase());
  }
  const keyHeaders = new Set([...keyNames].map((n) => n.toLowerCase()));
  const secrets: string[] = [];
  for (const [rawName, value] of headers) {
    const name = rawName.toLowerCase();
    if (tokenHeaders.has(name)) secrets.push(value, /[Bb]earer\s+(.+)/.exec(value)?.[1] ?? value);
    if (name === 'cookie' && tokenCookies.size > 0) {
      for (const part of value.split(';')) {
        const eq = part.indexOf('=');
        if (eq !== -1 && tokenCookies.has(part.slice(0, eq).trim().toLowerCase())) secrets.push(part.slice(eq + 1).trim());
      }
    }
    if (name === 'authorization' || name === 'proxy-authorization') {
      const m = /^\s*(\S+)\s+(.+?)\s*$/.exec(value);
      const token = m ? m[2] : value;
      secrets.push(token);
      if (m && passwordSchemes.has(m[1].toLowerCase())) {
        const decoded = Buffer.from(token, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon !== -1) secrets.push(decoded, decoded.slice(colon + 1));
      }
    } else if (keyHeaders.has(name)) {
      secrets.push(value);
    }
  }
  for (const [name, value] of new URLSearchParams(query)) {
    if (keyNames.has(name)) secrets.push(value, encodeURIComponent(value));
  }
  // Longest first, so a secret that contains another is masked whole.
  return [...new Set(secrets.filter((s) => s.trim() !== ''))].sort((a, b) => b.length - a.length);
}

/** A deep copy of `value` with every secret replaced by *** in every string, and secret config fields masked. */
export function masked<T>(value: T, secrets: readonly string[]): T {
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string') {
      if (key !== undefined && SECRET_FIELD.test(key) && v !== '') return MASK;
      let out = v;
      for (const s of secrets) out = out.split(s).join(MASK);
      return out;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(value) as T;
}
