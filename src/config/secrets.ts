/**
 * Secrets in Admin API output (key-auth keys, passwords in plugin configs) are masked unless the gateway runs with
 * --admin-show-secrets: a long key keeps its first 4 characters so an operator can tell keys apart (at least 12
 * characters stay hidden), a short one shows nothing. basic-auth passwords are shown as their bcrypt hash.
 */
export const MASK = '…';

/** Shown this long or longer, a key keeps a 4-character prefix. */
const PREFIX_FROM_LENGTH = 16;

export function maskSecret(value: string): string {
  return value.length >= PREFIX_FROM_LENGTH ? `${value.slice(0, 4)}${MASK}` : MASK;
}

/** What a masked value looks like: the loader refuses it, so a masked export cannot replace real secrets. */
export function isMasked(value: string): boolean {
  return value.endsWith(MASK) && (value.length === MASK.length || value.length === 4 + MASK.length);
}

const SECRET_FIELD = /(^|_)password$/;

/** A plugin config with every `…password` field masked (rate-limiting's `redis.password`, `redis_password`). */
export function maskConfig(config: unknown): unknown {
  if (Array.isArray(config)) return config.map(maskConfig);
  if (config === null || typeof config !== 'object') return config;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) out[k] = typeof v === 'string' && SECRET_FIELD.test(k) ? maskSecret(v) : maskConfig(v);
  return out;
}

/** Paths (within a plugin config) of secret fields holding a masked value. */
export function maskedSecretFields(config: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (config === null || typeof config !== 'object') return [];
  const out: Array<Array<string | number>> = [];
  for (const [k, v] of Object.entries(config)) {
    const path = [...at, Array.isArray(config) ? Number(k) : k];
    if (typeof v === 'string' && SECRET_FIELD.test(k) && isMasked(v)) out.push(path);
    else out.push(...maskedSecretFields(v, path));
  }
  return out;
}
