import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { PluginDefinition } from '../types';
import { BodyTooLargeError, type Refusal, type RequestContext } from '../../proxy/context';
import { hasBody } from '../../proxy/linger';
import { acceptByUsername } from '../auth/consumer';
import { checkAnonymous, finish, resolveAnonymous, skipAuth, type Attempt, type AuthFailure, type AuthMode } from '../auth/flow';
import { parseHttpDate } from './http-date';
import { parseHmacParams, type HmacParams } from './params';
import configSchema from './schema.json';

type HmacAlgorithm = 'hmac-sha1' | 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';

export interface HmacAuthConfig {
  hide_credentials: boolean;
  clock_skew: number;
  anonymous?: string | null;
  validate_request_body: boolean;
  enforce_headers: string[];
  algorithms: HmacAlgorithm[];
  realm?: string | null;
}

interface Compiled extends AuthMode {
  hide: boolean;
  clockSkew: number;
  validateBody: boolean;
  enforced: string[];
  /** Node's hash name by accepted algorithm. */
  algorithms: Map<string, string>;
  challenge: string;
  missing: AuthFailure;
  noDate: AuthFailure;
  cannotVerify: AuthFailure;
  mismatch: AuthFailure;
  tooLarge: AuthFailure;
}

const HASHES: Record<HmacAlgorithm, string> = { 'hmac-sha1': 'sha1', 'hmac-sha256': 'sha256', 'hmac-sha384': 'sha384', 'hmac-sha512': 'sha512' };

/** The most validate_request_body reads; a larger body is refused with 413 (Kong: 401 beyond its 8 KiB body buffer). */
export const HMAC_BODY_LIMIT = 1024 * 1024;

/** The first value of a request header by the name a client listed (Kong's get_header: any case, '_' as '-'). */
function header(ctx: RequestContext, listed: string): string | undefined {
  const name = listed.toLowerCase().replace(/_/g, '-');
  const v = ctx.clientHeader(name);
  if (v === undefined) return undefined;
  if (typeof v === 'string' && v.indexOf(',') === -1) return v;
  const raw = ctx.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) return raw[i + 1];
  return Array.isArray(v) ? v[0] : v;
}

/** Kong's validate_clock_skew: the header holds an HTTP date within clock_skew seconds of now. */
function dateWithinSkew(ctx: RequestContext, name: string, skew: number): boolean {
  const value = header(ctx, name);
  if (value === undefined) return false;
  const at = parseHttpDate(value);
  return at !== undefined && Math.abs(Math.floor(Date.now() / 1000) - at) <= skew;
}

/** The signing string exactly as Kong's create_hash builds it: one line per listed header, "\n" between. */
export function signingString(ctx: RequestContext, names: readonly string[]): string {
  const target = ctx.req.url ?? '/';
  const lines = names.map((name) => {
    const value = header(ctx, name);
    if (value !== undefined) return `${name}: ${value}`;
    if (name === '@request-target') return `@request-target: ${(ctx.req.method ?? 'GET').toLowerCase()} ${target}`;
    if (name === 'request-line') return `${ctx.req.method} ${target} HTTP/${ctx.req.httpVersionMajor}.${ctx.req.httpVersionMinor}`;
    return `${name}:`;
  });
  return lines.join('\n');
}

// ngx.decode_base64: the standard alphabet, padding optional.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function signatureMatches(ctx: RequestContext, params: HmacParams, hash: string, secret: string): boolean {
  if (!BASE64.test(params.signature) || params.signature.replace(/=+$/, '').length % 4 === 1) return false;
  const given = Buffer.from(params.signature, 'base64');
  const expected = createHmac(hash, secret).update(signingString(ctx, params.headers)).digest();
  // Constant time: how much of a forged signature matched must not show in the answer's timing.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Kong's validate_body: the Digest header is SHA-256 of the body; without one, the body must be empty. */
function digestMatches(ctx: RequestContext, body: Buffer): boolean {
  const digest = header(ctx, 'digest');
  if (digest === undefined) return body.length === 0;
  return digest === `SHA-256=${createHash('sha256').update(body).digest('base64')}`;
}

const EMPTY = Buffer.alloc(0);

function attempt(ctx: RequestContext, c: Compiled): Attempt {
  const authorization = ctx.clientHeader('authorization') as string | undefined;
  const proxyAuthorization = ctx.clientHeader('proxy-authorization') as string | undefined;
  if (authorization === undefined && proxyAuthorization === undefined) return c.missing;
  if (!dateWithinSkew(ctx, 'x-date', c.clockSkew) && !dateWithinSkew(ctx, 'date', c.clockSkew)) return c.noDate;
  // Proxy-Authorization first; hide_credentials drops the header the credential came from (Authorization
  // whenever Proxy-Authorization held none), as Kong does, before anything is checked.
  let params = proxyAuthorization === undefined ? undefined : parseHmacParams(proxyAuthorization);
  if (params === undefined) {
    params = authorization === undefined ? undefined : parseHmacParams(authorization);
    if (c.hide) ctx.hideHeader('authorization');
  } else if (c.hide) {
    ctx.hideHeader('proxy-authorization');
  }
  if (params === undefined) return c.cannotVerify;
  for (const name of c.enforced) if (!params.headers.includes(name)) return c.cannotVerify;
  const hash = c.algorithms.get(params.algorithm);
  if (hash === undefined) return c.cannotVerify;
  const credential = ctx.snapshot.hmacAuthByUsername.get(params.username);
  if (credential === undefined) return c.cannotVerify;
  if (!signatureMatches(ctx, params, hash, credential.secret)) return c.mismatch;
  if (!c.validateBody) return acceptByUsername(ctx, credential);
  if (!hasBody(ctx.req.headers)) return digestMatches(ctx, EMPTY) ? acceptByUsername(ctx, credential) : c.mismatch;
  const found = credential;
  return ctx.readBody(HMAC_BODY_LIMIT).then(
    (body) => (digestMatches(ctx, body) ? acceptByUsername(ctx, found) : c.mismatch),
    (err) => {
      if (err instanceof BodyTooLargeError) return c.tooLarge;
      throw err;
    },
  );
}

export const hmacAuth: PluginDefinition<HmacAuthConfig, Compiled> = {
  name: 'hmac-auth',
  priority: 1030,
  version: '1.0.0',
  configSchema,
  authenticates: true,
  check: checkAnonymous,
  compile(config, build) {
    const challenge = typeof config.realm === 'string' ? `hmac realm="${config.realm}"` : 'hmac';
    const unauthorized = (message: string, reason: Refusal): AuthFailure =>
      Object.freeze({ status: 401, message, headers: Object.freeze({ 'WWW-Authenticate': challenge }), fallback: true, reason, plugin: 'hmac-auth' });
    return {
      anonymous: resolveAnonymous(config.anonymous, build),
      runOnPreflight: true,
      hide: config.hide_credentials,
      clockSkew: config.clock_skew,
      validateBody: config.validate_request_body,
      enforced: config.enforce_headers,
      algorithms: new Map(config.algorithms.map((a) => [a, HASHES[a]])),
      challenge,
      // Kong's texts (kong/plugins/hmac-auth/access.lua).
      missing: unauthorized('Unauthorized', 'no credentials'),
      noDate: unauthorized('HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication', 'bad credentials'),
      cannotVerify: unauthorized('HMAC signature cannot be verified', 'bad credentials'),
      mismatch: unauthorized('HMAC signature does not match', 'bad credentials'),
      tooLarge: Object.freeze({ status: 413, message: 'Request body too large', headers: undefined, fallback: false, reason: 'body too large', plugin: 'hmac-auth' }),
    };
  },
  challenge: (c) => c.challenge,
  access(ctx, c) {
    if (skipAuth(ctx, c)) return;
    return finish(ctx, c, attempt(ctx, c));
  },
};
