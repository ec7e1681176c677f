import type { PluginDefinition } from '../types';
import type { ConsumerEntity } from '../../config/entities';
import type { AuthenticatedCredential, Refusal, RequestContext } from '../../proxy/context';
import { authenticatedCredential, identify } from '../auth/consumer';
import { checkAnonymous, finish, resolveAnonymous, skipAuth, type AuthFailure, type AuthMode } from '../auth/flow';
import { GenerationalCache } from './cache';
import type { JwtCredential } from './credentials';
import { parseToken } from './token';
import configSchema from './schema.json';

export interface JwtConfig {
  uri_param_names: string[];
  cookie_names: string[];
  key_claim_name: string;
  secret_is_base64: boolean;
  claims_to_verify?: Array<'exp' | 'nbf'> | null;
  anonymous?: string | null;
  run_on_preflight: boolean;
  maximum_expiration: number;
  header_names: string[];
  realm?: string | null;
}

/** A token this plugin instance verified, remembered until it expires. */
interface Verified {
  readonly consumer: ConsumerEntity;
  readonly credential: AuthenticatedCredential;
  /** Milliseconds since epoch from which the token counts as expired (Infinity when exp is not checked). */
  readonly until: number;
}

interface Compiled extends AuthMode {
  uriParams: string[];
  cookies: string[];
  /** Lower-cased, '_' as '-': the header lookup of Kong's request.get_headers(). */
  headers: string[];
  keyClaim: string;
  secretIsBase64: boolean;
  checkExp: boolean;
  /** claims_to_verify in its configured order (the order of a failure's body). */
  claims: ReadonlyArray<'exp' | 'nbf'>;
  maximumExpiration: number;
  challenge: string;
  unauthorized: AuthFailure;
  multiple: AuthFailure;
  noKeyClaim: AuthFailure;
  emptyKeyClaim: AuthFailure;
  noCredential: AuthFailure;
  wrongAlgorithm: AuthFailure;
  noSecret: AuthFailure;
  badSignature: AuthFailure;
  badToken: Map<string, AuthFailure>;
  /** Failures carrying claim errors, by body; at most a handful. */
  claimFailures: Map<string, AuthFailure>;
  verified: GenerationalCache<Verified>;
}

/** Per plugin instance and snapshot: a reload or a changed credential starts with an empty cache. */
const CACHE_GENERATION = 1024;
/** Longer tokens are verified every time rather than kept (bounds the cache's memory). */
const MAX_CACHED_TOKEN = 4096;

const MULTIPLE = Symbol('multiple tokens');
type Found = string | undefined | typeof MULTIPLE;

function add(found: Found, token: string): Found {
  if (token === '' || found === token) return found;
  return found === undefined ? token : MULTIPLE;
}

// Kong's `\s*[Bb]earer\s+(.+)`, unanchored; the leading \s* changes no match and is left out (it would make the
// search quadratic on long runs of spaces).
const BEARER = /[Bb]earer\s+(.+)/;

/** The first value of a request header, as Kong's get_headers()[name][1] (Node joins repeated ones with ", "). */
function firstHeader(ctx: RequestContext, name: string): string | undefined {
  const v = ctx.clientHeader(name);
  if (v === undefined || (typeof v === 'string' && v.indexOf(',') === -1)) return v as string | undefined;
  const raw = ctx.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === name.length && raw[i].toLowerCase() === name) return raw[i + 1];
  return undefined;
}

/** nginx's $cookie_<name>: the first cookie of that name, compared case-insensitively. */
function cookie(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim().toLowerCase() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Kong's retrieve_tokens: query parameters, then cookies, then headers; one distinct token or several. */
function findToken(ctx: RequestContext, c: Compiled): Found {
  let found: Found = undefined;
  if (c.uriParams.length > 0 && ctx.rawQuery !== null) {
    for (const name of c.uriParams) for (const v of ctx.query.getAll(name)) found = add(found, v);
  }
  const cookies = ctx.clientHeader('cookie') as string | undefined;
  if (c.cookies.length > 0 && cookies !== undefined) {
    for (const name of c.cookies) {
      const v = cookie(cookies, name);
      if (v !== undefined) found = add(found, v);
    }
  }
  for (const name of c.headers) {
    const v = firstHeader(ctx, name);
    if (v === undefined) continue;
    const m = BEARER.exec(v);
    if (m !== null) found = add(found, m[1]);
  }
  return found;
}

function accept(ctx: RequestContext, v: Verified): undefined {
  identify(ctx, v.consumer, v.credential);
  return undefined;
}

function attempt(ctx: RequestContext, c: Compiled): AuthFailure | undefined {
  const token = findToken(ctx, c);
  if (token === undefined) return c.unauthorized;
  if (token === MULTIPLE) return c.multiple;
  const now = Date.now();
  const known = c.verified.get(token);
  if (known !== undefined) {
    if (now < known.until) return accept(ctx, known);
    c.verified.delete(token);
  }
  return verify(ctx, c, token, now);
}

/** Kong's do_authentication, check by check and message by message (kong/plugins/jwt/handler.lua). */
function verify(ctx: RequestContext, c: Compiled, token: string, now: number): AuthFailure | undefined {
  const jwt = parseToken(token);
  if (typeof jwt === 'string') return c.badToken.get(jwt)!;
  let key = jwt.claims[c.keyClaim];
  if (key === undefined || key === false) key = jwt.header[c.keyClaim];
  if (key === undefined || key === false) return c.noKeyClaim;
  // Kong fails a non-string key claim with a 500; here it is as invalid as an empty one.
  if (key === '' || typeof key !== 'string') return c.emptyKeyClaim;
  const credential: JwtCredential | undefined = ctx.snapshot.jwtByKey.get(key);
  if (credential === undefined) return c.noCredential;
  if (jwt.alg !== credential.algorithm) return c.wrongAlgorithm;
  const check = c.secretIsBase64 ? credential.checkBase64 : credential.check;
  if (check === undefined) return c.noSecret;
  if (!check(jwt.signingInput, jwt.signature)) return c.badSignature;
  const seconds = Math.floor(now / 1000);
  const errors = claimErrors(c, jwt.claims, seconds);
  if (errors !== undefined) return claimFailure(c, errors);
  const exp = jwt.claims.exp;
  if (c.maximumExpiration > 0 && (typeof exp !== 'number' || exp - seconds > c.maximumExpiration)) {
    return claimFailure(c, { exp: 'exceeds maximum allowed expiration' });
  }
  const verified: Verified = {
    consumer: ctx.snapshot.consumersById.get(credential.entity.consumer)!,
    // Kong's X-Credential-Identifier for jwt is the credential's key.
    credential: authenticatedCredential(credential.entity, credential.entity.key),
    // Valid while floor(now) < exp, i.e. until ceil(exp) seconds.
    until: c.checkExp ? Math.ceil(exp as number) * 1000 : Infinity,
  };
  if (token.length <= MAX_CACHED_TOKEN) c.verified.set(token, verified);
  return accept(ctx, verified);
}

function claimErrors(c: Compiled, claims: Record<string, unknown>, now: number): Record<string, string> | undefined {
  let errors: Record<string, string> | undefined;
  for (const name of c.claims) {
    const v = claims[name];
    let error: string | undefined;
    if (typeof v !== 'number') error = 'must be a number';
    else if (name === 'exp' && v <= now) error = 'token expired';
    else if (name === 'nbf' && v > now) error = 'token not valid yet';
    if (error !== undefined) (errors ??= {})[name] = error;
  }
  return errors;
}

/** Kong answers claim errors with the errors themselves as the body, e.g. {"exp":"token expired"}. */
function claimFailure(c: Compiled, errors: Record<string, string>): AuthFailure {
  const body = JSON.stringify(errors);
  let failure = c.claimFailures.get(body);
  if (failure === undefined) {
    failure = Object.freeze({ ...c.badSignature, message: Object.values(errors).join('; '), body });
    c.claimFailures.set(body, failure);
  }
  return failure;
}

function failure(message: string, challenge: string, reason: Refusal): AuthFailure {
  // Kong's jwt answers with kong.response.exit: always JSON, exactly {"message": …}.
  return Object.freeze({
    status: 401,
    message,
    body: JSON.stringify({ message }),
    headers: Object.freeze({ 'WWW-Authenticate': challenge }),
    fallback: true,
    reason,
    plugin: 'jwt',
  });
}

export const jwt: PluginDefinition<JwtConfig, Compiled> = {
  name: 'jwt',
  priority: 1450,
  version: '1.0.0',
  configSchema,
  authenticates: true,
  check(plugin, entities) {
    const checks = checkAnonymous(plugin, entities);
    const { maximum_expiration: max, claims_to_verify: claims } = plugin.config;
    if (max > 0 && !(claims ?? []).includes('exp')) checks.push({ path: ['config', 'claims_to_verify'], message: 'expected to contain: exp' });
    return checks;
  },
  compile(config, build) {
    const base = typeof config.realm === 'string' ? `Bearer realm="${config.realm}"` : 'Bearer';
    const invalid = typeof config.realm === 'string' ? `${base}, error="invalid_token"` : 'Bearer error="invalid_token"';
    const k = config.key_claim_name;
    const bad = (message: string) => failure(message, invalid, 'bad credentials');
    const claims = [...new Set(config.claims_to_verify ?? [])];
    return {
      anonymous: resolveAnonymous(config.anonymous, build),
      runOnPreflight: config.run_on_preflight,
      uriParams: [...new Set(config.uri_param_names)],
      cookies: [...new Set(config.cookie_names.map((n) => n.toLowerCase()))],
      headers: [...new Set(config.header_names.map((n) => n.toLowerCase().replace(/_/g, '-')))],
      keyClaim: k,
      secretIsBase64: config.secret_is_base64,
      checkExp: claims.includes('exp'),
      claims,
      maximumExpiration: config.maximum_expiration,
      challenge: base,
      unauthorized: failure('Unauthorized', base, 'no credentials'),
      multiple: bad('Multiple tokens provided'),
      noKeyClaim: bad(`No mandatory '${k}' in claims`),
      emptyKeyClaim: bad(`Invalid '${k}' in claims`),
      noCredential: bad(`No credentials found for given '${k}'`),
      wrongAlgorithm: bad('Invalid algorithm'),
      noSecret: bad('Invalid key/secret'),
      badSignature: bad('Invalid signature'),
      badToken: new Map(['invalid JSON', 'invalid alg', 'invalid claims', 'invalid signature'].map((why) => [why, bad(`Bad token; ${why}`)])),
      claimFailures: new Map(),
      verified: new GenerationalCache(CACHE_GENERATION),
    };
  },
  challenge: (c) => c.challenge,
  access(ctx, c) {
    if (skipAuth(ctx, c)) return;
    return finish(ctx, c, attempt(ctx, c));
  },
};
