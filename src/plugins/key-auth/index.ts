import type { PluginDefinition } from '../types';
import type { Refusal } from '../../proxy/context';
import { BodyTooLargeError, type RequestContext } from '../../proxy/context';
import { authenticatedCredential, identify } from '../auth/consumer';
import { checkAnonymous, finish, resolveAnonymous, skipAuth, type Attempt, type AuthFailure, type AuthMode } from '../auth/flow';
import { readKeyBody, type KeyBody } from './body';
import { DUPLICATE, findParam, removeParam, type Found } from './params';
import { rawHeaderCount } from '../../proxy/raw-headers';
import configSchema from './schema.json';

export interface KeyAuthConfig {
  key_names: string[];
  key_in_header: boolean;
  key_in_query: boolean;
  key_in_body: boolean;
  hide_credentials: boolean;
  anonymous?: string | null;
  run_on_preflight: boolean;
  realm?: string | null;
}

interface KeyName {
  /** Lower-cased: header names are case-insensitive. */
  header: string;
  /**
   * The header name with every `_` written `-`, and with every `-` written `_`, where that differs: nginx's header
   * lookup, which Kong's key-auth uses, takes `_` and `-` alike.
   */
  otherSpellings: readonly string[];
  /** As configured: query and body names are case-sensitive. */
  exact: string;
}

function keyName(name: string): KeyName {
  const header = name.toLowerCase();
  const spellings = new Set([header.replace(/_/g, '-'), header.replace(/-/g, '_')]);
  spellings.delete(header);
  return { header, otherSpellings: [...spellings], exact: name };
}

interface Compiled extends AuthMode {
  names: KeyName[];
  inHeader: boolean;
  inQuery: boolean;
  inBody: boolean;
  hide: boolean;
  challenge: string;
  noKey: AuthFailure;
  invalid: AuthFailure;
  duplicate: AuthFailure;
  tooLarge: AuthFailure;
}

function headerValue(ctx: RequestContext, name: string): Found {
  const v = ctx.clientHeader(name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return DUPLICATE;
  // Node joins a repeated header with ", ": only then is it worth counting the raw header lines.
  if (v.indexOf(',') !== -1 && rawHeaderCount(ctx.req.rawHeaders, name) > 1) return DUPLICATE;
  return v;
}

/** The key in a header under any spelling of its name; the name sent under two spellings is a duplicate key. */
function headerKey(ctx: RequestContext, name: KeyName): Found {
  let found = headerValue(ctx, name.header);
  for (let i = 0; i < name.otherSpellings.length; i++) {
    const v = headerValue(ctx, name.otherSpellings[i]);
    if (v === undefined) continue;
    if (found !== undefined) return DUPLICATE;
    found = v;
  }
  return found;
}

/** Reads the body, then goes on; a body over the limit ends the attempt with 413. */
function withBody(ctx: RequestContext, c: Compiled, then: (body: KeyBody) => Attempt): Attempt {
  const body = readKeyBody(ctx);
  if (!(body instanceof Promise)) return then(body);
  return body.then(then, (err) => {
    if (err instanceof BodyTooLargeError) return c.tooLarge;
    throw err;
  });
}

/** Kong's search order: for each key name, header, then query string, then body (read only when reached). */
function search(ctx: RequestContext, c: Compiled, body: KeyBody | undefined, from: number): Attempt {
  for (let i = from; i < c.names.length; i++) {
    const name = c.names[i];
    let v: Found = undefined;
    if (c.inHeader) v = headerKey(ctx, name);
    if (v === undefined && c.inQuery && ctx.rawQuery !== null) v = findParam(ctx.rawQuery, name.exact);
    if (v === undefined && c.inBody) {
      if (body === undefined) return withBody(ctx, c, (b) => search(ctx, c, b, i));
      v = body.get(name.exact);
    }
    if (v === DUPLICATE) return c.duplicate;
    if (v !== undefined) return c.hide ? hide(ctx, c, name, v, body) : check(ctx, c, v);
  }
  return c.noKey;
}

/** hide_credentials: the key name leaves the headers, the query string and (key_in_body) the body, as in Kong. */
function hide(ctx: RequestContext, c: Compiled, name: KeyName, key: string, body: KeyBody | undefined): Attempt {
  if (c.inBody && body === undefined) return withBody(ctx, c, (b) => hide(ctx, c, name, key, b));
  ctx.hideHeader(name.header);
  for (const other of name.otherSpellings) ctx.hideHeader(other);
  if (ctx.rawQuery !== null) {
    const query = removeParam(ctx.rawQuery, name.exact);
    if (query.length !== ctx.rawQuery.length) ctx.setQuery(query);
  }
  const stripped = body?.without(name.exact);
  if (stripped !== undefined) ctx.replaceBody(stripped);
  return check(ctx, c, key);
}

function check(ctx: RequestContext, c: Compiled, key: string): AuthFailure | undefined {
  if (key === '') return c.noKey;
  const credential = ctx.snapshot.keyAuthByKey.get(key);
  if (credential === undefined) return c.invalid;
  // Kong's X-Credential-Identifier for key-auth is the credential's id, never the key.
  identify(ctx, ctx.snapshot.consumersById.get(credential.consumer)!, authenticatedCredential(credential, credential.id));
  return undefined;
}

function unauthorized(message: string, challenge: string, reason: Refusal): AuthFailure {
  return Object.freeze({ status: 401, message, headers: Object.freeze({ 'WWW-Authenticate': challenge }), fallback: true, reason, plugin: 'key-auth' });
}

export const keyAuth: PluginDefinition<KeyAuthConfig, Compiled> = {
  name: 'key-auth',
  priority: 1250,
  version: '1.0.0',
  configSchema,
  authenticates: true,
  check: checkAnonymous,
  compile(config, build) {
    // Kong 3.x: `Key realm="…"` when a realm is configured, a bare `Key` otherwise.
    const challenge = typeof config.realm === 'string' ? `Key realm="${config.realm}"` : 'Key';
    return {
      anonymous: resolveAnonymous(config.anonymous, build),
      runOnPreflight: config.run_on_preflight,
      names: config.key_names.map(keyName),
      inHeader: config.key_in_header,
      inQuery: config.key_in_query,
      inBody: config.key_in_body,
      hide: config.hide_credentials,
      challenge,
      noKey: unauthorized('No API key found in request', challenge, 'no credentials'),
      // Kong 3.6+ answers a wrong key with "Unauthorized" (earlier 3.x: "Invalid authentication credentials").
      invalid: unauthorized('Unauthorized', challenge, 'bad credentials'),
      duplicate: unauthorized('Duplicate API key found', challenge, 'bad credentials'),
      tooLarge: Object.freeze({ status: 413, message: 'Request body too large', headers: undefined, fallback: false, reason: 'body too large', plugin: 'key-auth' }),
    };
  },
  challenge: (c) => c.challenge,
  access(ctx, c) {
    if (skipAuth(ctx, c)) return;
    return finish(ctx, c, search(ctx, c, undefined, 0));
  },
};
