import type { PluginDefinition } from '../types';
import type { Refusal, RequestContext } from '../../proxy/context';
import { acceptByUsername } from '../auth/consumer';
import { checkAnonymous, finish, resolveAnonymous, skipAuth, type Attempt, type AuthFailure, type AuthMode } from '../auth/flow';
import { BUSY, rememberedFor, verifyPassword } from './verifier';
import configSchema from './schema.json';

export interface BasicAuthConfig {
  anonymous?: string | null;
  hide_credentials: boolean;
  realm: string;
}

interface Compiled extends AuthMode {
  hide: boolean;
  challenge: string;
  /** No Basic credentials in either header. */
  missing: AuthFailure;
  unauthorized: AuthFailure;
  busy: AuthFailure;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Username and password of a `Basic` header, as Kong parses it: the username is everything before the first ':'. */
function parseBasic(header: string | undefined): [string, string] | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*[Bb]asic\s*(.+)$/.exec(header);
  if (m === null) return undefined;
  const encoded = m[1].trim();
  if (!BASE64.test(encoded)) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

function attempt(ctx: RequestContext, c: Compiled): Attempt {
  const proxyAuthorization = ctx.clientHeader('proxy-authorization') as string | undefined;
  const authorization = ctx.clientHeader('authorization') as string | undefined;
  if (proxyAuthorization === undefined && authorization === undefined) return c.missing;
  const users = ctx.snapshot.basicAuthByUsername;
  // The usual request: an Authorization header alone, the same as one already verified (see RememberedHeaders).
  // With Proxy-Authorization present, every header is read the long way.
  const remembered = proxyAuthorization === undefined ? rememberedFor(users) : undefined;
  const digest = remembered?.digest(authorization!);
  if (digest !== undefined) {
    const known = remembered!.get(digest);
    if (known !== undefined) {
      if (c.hide) ctx.hideHeader('authorization');
      return acceptByUsername(ctx, known);
    }
  }
  // Kong reads Proxy-Authorization first, then Authorization; hide_credentials drops each header it reads.
  let given = parseBasic(proxyAuthorization);
  if (c.hide) ctx.hideHeader('proxy-authorization');
  let credential = given && users.get(given[0]);
  let tried = given;
  if (credential === undefined) {
    given = parseBasic(authorization);
    if (c.hide) ctx.hideHeader('authorization');
    credential = given && users.get(given[0]);
    tried = given ?? tried;
  }
  if (credential === undefined) return tried === undefined ? c.missing : refuseUnknown(ctx, c, tried);
  const verification = verifyPassword(credential, given![1]);
  if (verification === BUSY) return c.busy;
  if (verification === false) return c.unauthorized;
  const found = credential;
  const accept = (): undefined => {
    if (digest !== undefined) remembered!.remember(digest, found);
    return acceptByUsername(ctx, found);
  };
  if (verification === true) return accept();
  return verification.then((ok) => (ok ? accept() : c.unauthorized));
}

/**
 * An unknown username costs what a known one with a wrong password does: one check against the snapshot's decoy
 * hash, through the same pool and under the same bound, so response times do not tell which usernames exist.
 * What is checked is `username:password`, so that concurrent requests share a check exactly when they would for a
 * known username (same username and password).
 */
function refuseUnknown(ctx: RequestContext, c: Compiled, [username, password]: [string, string]): Attempt {
  const verification = verifyPassword(ctx.snapshot.basicAuthDecoy, `${username}:${password}`);
  if (verification === BUSY) return c.busy;
  if (typeof verification === 'boolean') return c.unauthorized;
  return verification.then(() => c.unauthorized);
}

export const basicAuth: PluginDefinition<BasicAuthConfig, Compiled> = {
  name: 'basic-auth',
  priority: 1100,
  version: '1.0.0',
  configSchema,
  authenticates: true,
  check: checkAnonymous,
  compile(config, build) {
    const challenge = `Basic realm="${config.realm}"`;
    const unauthorized = (reason: Refusal): AuthFailure =>
      Object.freeze({ status: 401, message: 'Unauthorized', headers: Object.freeze({ 'WWW-Authenticate': challenge }), fallback: true, reason, plugin: 'basic-auth' });
    return {
      anonymous: resolveAnonymous(config.anonymous, build),
      runOnPreflight: true,
      hide: config.hide_credentials,
      challenge,
      // Kong 3.6+: every basic-auth failure is 401 "Unauthorized" with the challenge, whatever went wrong.
      missing: unauthorized('no credentials'),
      unauthorized: unauthorized('bad credentials'),
      busy: Object.freeze({
        status: 503,
        message: 'Too many password checks in progress, retry later',
        headers: Object.freeze({ 'Retry-After': '1' }),
        fallback: false,
        reason: 'auth overloaded',
        plugin: 'basic-auth',
      }),
    };
  },
  challenge: (c) => c.challenge,
  access(ctx, c) {
    if (skipAuth(ctx, c)) return;
    return finish(ctx, c, attempt(ctx, c));
  },
};
