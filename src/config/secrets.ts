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
/** Header maps (http-log's `headers`) carry credentials under these names. */
const SECRET_HEADER = /^(proxy-)?authorization$/i;
/** A URL's userinfo password (http-log's `http_endpoint`): `scheme://user:` and the password up to `@`. */
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)([^/?#@]*)@/i;

function isSecretField(key: string): boolean {
  return SECRET_FIELD.test(key) || SECRET_HEADER.test(key);
}

/** The value of a config string with its secret part masked, or undefined when it holds none. */
function masked(key: string, value: string): string | undefined {
  if (isSecretField(key)) return maskSecret(value);
  const url = URL_PASSWORD.exec(value);
  return url === null ? undefined : `${url[1]}${MASK}@${value.slice(url[0].length)}`;
}

function holdsMask(key: string, value: string): boolean {
  if (isSecretField(key)) return isMasked(value);
  return URL_PASSWORD.exec(value)?.[2] === MASK;
}

/**
 * A plugin config with every `…password` field masked (rate-limiting's `redis.password`, `redis_password`), every
 * Authorization header value, and the password of a URL's userinfo (http-log's `http_endpoint`).
 */
export function maskConfig(config: unknown): unknown {
  if (Array.isArray(config)) return config.map(maskConfig);
  if (config === null || typeof config !== 'object') return config;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) out[k] = typeof v === 'string' ? (masked(k, v) ?? v) : maskConfig(v);
  return out;
}

/** Paths (within a plugin config) of secret fields holding a masked value. */
export function maskedSecretFields(config: unknown, at: Array<string | number> = []): Array<Array<string | number>> {
  if (config === null || typeof config !== 'object') return [];
  const out: Array<Array<string | number>> = [];
  for (const [k, v] of Object.entries(config)) {
    const path = [...at, Array.isArray(config) ? Number(k) : k];
    if (typeof v === 'string' && holdsMask(k, v)) out.push(path);
    else out.push(...maskedSecretFields(v, path));
  }
  return out;
}
