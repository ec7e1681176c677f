import type { PluginCheck, PluginDefinition } from '../types';
import type { Refusal, RequestContext } from '../../proxy/context';
import { MESSAGES } from '../../proxy/respond';
import { stableId } from '../../config/ids';
import { identifyCredential } from '../auth/consumer';
import { checkAnonymous, finish, resolveAnonymous, skipAuth, type Attempt, type AuthFailure, type AuthMode } from '../auth/flow';
import { BindCache, bindKey, REFUSED, type Verdict } from './bind-cache';
import { acquireDirectory, directoryUrl, DirectoryError, releaseDirectory, type Directory } from './directory';
import configSchema from './schema.json';

export interface LdapAuthConfig {
  ldap_host: string;
  ldap_port: number;
  ldaps: boolean;
  start_tls: boolean;
  verify_ldap_host: boolean;
  base_dn: string;
  attribute: string;
  cache_ttl: number;
  hide_credentials: boolean;
  timeout: number;
  keepalive: number;
  anonymous?: string | null;
  header_type: string;
  realm?: string | null;
}

interface Compiled extends AuthMode {
  /** `^\s*<header_type>\s+`, case-insensitive. */
  scheme: RegExp;
  attribute: string;
  baseDn: string;
  /** Names the directory in credential ids, so one user of one directory is one credential on every route. */
  directoryName: string;
  /** Undefined offline (`gateway explain`): nothing is contacted. */
  directory: Directory | undefined;
  /** For explain: where a bind would go. */
  url: string;
  timeout: number;
  cache: BindCache;
  /** Binds under way by cache key: concurrent requests with the same credentials share one. */
  inflight: Map<string, Promise<Verdict>>;
  hide: boolean;
  challenge: string;
  missing: AuthFailure;
  unauthorized: AuthFailure;
  unavailable: AuthFailure;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// Kong's split: the username ends at the first ':', the password is not empty.
const USER_PASSWORD = /^(.*?):(.+)$/;

/** Username and password of an `<header_type> base64(username:password)` value; undefined when it is not one. */
function credentialsOf(value: string | undefined, c: Compiled): [string, string] | undefined {
  if (value === undefined) return undefined;
  const m = c.scheme.exec(value);
  if (m === null) return undefined;
  const encoded = value.slice(m[0].length).trim();
  if (!BASE64.test(encoded)) return undefined;
  const up = USER_PASSWORD.exec(Buffer.from(encoded, 'base64').toString('utf8'));
  if (up === null || up[1] === '') return undefined;
  return [up[1], up[2]];
}

/**
 * The username as one RDN value (RFC 4514 escapes): Kong pastes it in as sent, so `a,ou=x` would bind as an
 * entry of the client's choosing; here it can only name an entry directly under base_dn.
 */
function escapeDnValue(value: string): string {
  let out = value.replace(/[\\"+,;<>=\0]/g, (ch) => (ch === '\0' ? '\\00' : `\\${ch}`));
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

const dnOf = (c: Compiled, username: string) => `${c.attribute}=${escapeDnValue(username)},${c.baseDn}`;

function credential(c: Compiled, username: string): Verdict {
  // Kong's credential id is its cache key, a hash that covers the password; this one never derives from it.
  return Object.freeze({ id: stableId('ldap-auth', `${c.directoryName}\0${username}`), consumerId: undefined, identifier: username });
}

/** The directory's verdict on these credentials: from the cache, or from a bind (shared by concurrent requests). */
function verdictOf(ctx: RequestContext, c: Compiled, username: string, password: string): Verdict | Promise<Verdict> {
  if (c.directory === undefined) {
    ctx.trace?.note(`would bind as ${dnOf(c, username)} at ${c.url} (not contacted: taken as accepted)`);
    return credential(c, username);
  }
  const key = bindKey(username, password);
  const known = c.cache.get(key, Date.now());
  if (known !== undefined) return known;
  let bind = c.inflight.get(key);
  if (bind === undefined) {
    bind = c.directory
      .bind(dnOf(c, username), password, c.timeout)
      .then((outcome) => {
        const verdict = outcome === 'accepted' ? credential(c, username) : REFUSED;
        c.cache.set(key, verdict, Date.now());
        return verdict;
      })
      .finally(() => c.inflight.delete(key));
    c.inflight.set(key, bind);
  }
  return bind;
}

/** Checks one header's credentials: undefined when it holds none the directory accepts. */
function check(ctx: RequestContext, c: Compiled, name: 'authorization' | 'proxy-authorization'): Verdict | undefined | Promise<Verdict> {
  const given = credentialsOf(ctx.clientHeader(name) as string | undefined, c);
  return given === undefined ? undefined : verdictOf(ctx, c, given[0], given[1]);
}

function accept(ctx: RequestContext, c: Compiled, verdict: Verdict): undefined {
  if (c.hide) {
    ctx.hideHeader('authorization');
    ctx.hideHeader('proxy-authorization');
  }
  identifyCredential(ctx, verdict as Exclude<Verdict, typeof REFUSED>);
  return undefined;
}

type Checked = Verdict | undefined;

/** Kong's order: Proxy-Authorization, then (when that one fails) Authorization. */
function attempt(ctx: RequestContext, c: Compiled): Attempt {
  if (ctx.clientHeader('proxy-authorization') === undefined && ctx.clientHeader('authorization') === undefined) return c.missing;
  const first = check(ctx, c, 'proxy-authorization');
  if (first instanceof Promise) return first.then((v) => afterProxyAuthorization(ctx, c, v), (err) => outage(c, err));
  return afterProxyAuthorization(ctx, c, first);
}

function afterProxyAuthorization(ctx: RequestContext, c: Compiled, first: Checked): Attempt {
  if (first !== undefined && first !== REFUSED) return accept(ctx, c, first);
  const second = check(ctx, c, 'authorization');
  if (second instanceof Promise) return second.then((v) => conclude(ctx, c, v), (err) => outage(c, err));
  return conclude(ctx, c, second);
}

function conclude(ctx: RequestContext, c: Compiled, v: Checked): AuthFailure | undefined {
  return v === undefined || v === REFUSED ? c.unauthorized : accept(ctx, c, v);
}

/**
 * The directory gave no answer: Kong raises an error, a 500, in AND and OR mode alike. Falling back to the
 * anonymous consumer instead would let a directory outage turn every user into the anonymous one.
 */
function outage(c: Compiled, err: unknown): AuthFailure {
  if (err instanceof DirectoryError) return c.unavailable;
  throw err;
}

function failure(status: number, message: string, headers: Record<string, string> | undefined, fallback: boolean, reason: Refusal): AuthFailure {
  return Object.freeze({ status, message, headers: headers && Object.freeze(headers), fallback, reason, plugin: 'ldap-auth' });
}

export const ldapAuth: PluginDefinition<LdapAuthConfig, Compiled> = {
  name: 'ldap-auth',
  priority: 1200,
  version: '1.0.0',
  configSchema,
  authenticates: true,
  check(plugin, entities) {
    const out: PluginCheck[] = checkAnonymous(plugin, entities);
    if (plugin.config.ldaps && plugin.config.start_tls) {
      out.push({ path: ['config', 'start_tls'], message: "'ldaps' and 'start_tls' cannot be enabled simultaneously" });
    } else if (plugin.config.ldaps && plugin.config.ldap_port === 389) {
      // ldap_port defaults to 389 whatever ldaps says (Kong's schema): a common way to get every login a 500.
      out.push({ path: ['config', 'ldap_port'], message: 'ldaps on port 389, the plain LDAP port: LDAPS is usually on 636 (or use start_tls on 389)', severity: 'warning' });
    }
    return out;
  },
  compile(config, build) {
    // Kong capitalizes the default scheme in the challenge ("LDAP"); any other header_type goes as configured.
    const scheme = config.header_type === 'ldap' ? 'LDAP' : config.header_type;
    const challenge = typeof config.realm === 'string' ? `${scheme} realm="${config.realm}"` : scheme;
    const unauthorized = (reason: Refusal) => failure(401, 'Unauthorized', { 'WWW-Authenticate': challenge }, true, reason);
    const settings = {
      host: config.ldap_host.replace(/^\[(.*)\]$/, '$1'),
      port: config.ldap_port,
      ldaps: config.ldaps,
      startTls: config.start_tls,
      verify: config.verify_ldap_host,
      keepalive: config.keepalive,
    };
    const directory = build.offline === true ? undefined : acquireDirectory(settings);
    return {
      anonymous: resolveAnonymous(config.anonymous, build),
      runOnPreflight: true,
      scheme: new RegExp(`^\\s*${config.header_type.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+`, 'i'),
      attribute: config.attribute,
      baseDn: config.base_dn,
      directoryName: `${settings.host.toLowerCase()}:${settings.port}/${config.attribute}=,${config.base_dn}`,
      directory,
      url: directoryUrl(settings),
      timeout: config.timeout,
      cache: new BindCache(config.cache_ttl * 1000),
      inflight: new Map(),
      hide: config.hide_credentials,
      challenge,
      missing: unauthorized('no credentials'),
      unauthorized: unauthorized('bad credentials'),
      unavailable: failure(500, MESSAGES.unexpected, undefined, false, 'plugin error'),
    };
  },
  challenge: (c) => c.challenge,
  access(ctx, c) {
    if (skipAuth(ctx, c)) return;
    return finish(ctx, c, attempt(ctx, c));
  },
  dispose(c) {
    if (c.directory !== undefined) releaseDirectory(c.directory);
  },
};
