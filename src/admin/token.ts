import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

export const ADMIN_TOKEN_ENV = 'GATEWAY_ADMIN_TOKEN';

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * A token no request could carry is refused at start rather than locking everybody out: HTTP drops the spaces and
 * tabs around a header value, and a header value holds neither control characters nor, byte for byte, non-ASCII.
 * The messages never quote the token.
 */
export function checkAdminToken(token: string): void {
  const given = `(--admin-token or ${ADMIN_TOKEN_ENV})`;
  if (token.trim() === '') throw new Error(`the admin token is empty or only whitespace ${given}`);
  if (token.trim() !== token) throw new Error(`the admin token starts or ends with whitespace ${given}, which HTTP drops from header values: no request could carry it`);
  if (!/^[\x20-\x7e]+$/.test(token)) throw new Error(`the admin token ${given} must be printable ASCII: no request could carry control characters, and non-ASCII is read byte by byte`);
}

/** The Admin API can rewrite the live config: anywhere but loopback it needs a token. */
export function checkAdminExposure(host: string, token: string | undefined): void {
  if (token === undefined && !isLoopback(host)) {
    throw new Error(
      `the Admin API would listen on ${host}, which is not a loopback address: ` +
        `set an admin token (--admin-token or ${ADMIN_TOKEN_ENV}) or listen on 127.0.0.1`,
    );
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Checks `Authorization: Bearer <token>` or `Kong-Admin-Token: <token>` in constant time. */
export function tokenChecker(token: string): (headers: IncomingHttpHeaders) => boolean {
  const expected = digest(token);
  return (headers) => {
    const auth = headers.authorization;
    const given = auth !== undefined && /^bearer /i.test(auth) ? auth.slice(7).trim() : headers['kong-admin-token'];
    if (typeof given !== 'string') return false;
    return timingSafeEqual(digest(given), expected);
  };
}
