import type { PluginCheck, PluginDefinition } from '../types';
import type { RequestContext } from '../../proxy/context';
import type { Chain } from '../../config/snapshot';
import configSchema from './schema.json';

export interface AclConfig {
  allow?: string[] | null;
  deny?: string[] | null;
  hide_groups_header: boolean;
  always_use_authenticated_groups: boolean;
  include_consumer_groups: boolean;
  anonymous_authz_exception: boolean;
}

interface Compiled {
  allowMode: boolean;
  groups: ReadonlySet<string>;
  hideHeader: boolean;
  alwaysUseAuthenticatedGroups: boolean;
  anonymousAuthzException: boolean;
  /** For every consumer with acls: true when refused, else its X-Consumer-Groups value. */
  decisions: ReadonlyMap<string, true | string>;
}

const FORBIDDEN = 'You cannot consume this service';
const UNAUTHORIZED = 'Unauthorized';

const nonEmpty = (list: string[] | null | undefined): list is string[] => Array.isArray(list) && list.length > 0;

function refused(c: Pick<Compiled, 'allowMode' | 'groups'>, groups: readonly string[]): boolean {
  let inGroup = false;
  for (let i = 0; i < groups.length && !inGroup; i++) inGroup = c.groups.has(groups[i]);
  return c.allowMode ? !inGroup : inGroup;
}

function listOf(config: AclConfig) {
  const allowMode = nonEmpty(config.allow);
  return { allowMode, groups: new Set(allowMode ? config.allow : (config.deny ?? [])) };
}

/** Whether an acl with this config refuses an identified consumer whose groups are `groups` ([] when it has none). */
export function aclRefuses(config: AclConfig, groups: readonly string[]): boolean {
  return refused(listOf(config), groups);
}

// The WWW-Authenticate challenges of a route's auth plugins, by route chain (auth plugins are never
// consumer-scoped, so the route's chain names them all).
const challengesByChain = new WeakMap<Chain, string>();

function challengesOf(chain: Chain): string {
  let out = challengesByChain.get(chain);
  if (out === undefined) {
    const all: string[] = [];
    for (const e of chain) if (e.def.authenticates && e.def.challenge) all.push(e.def.challenge(e.conf));
    out = all.join(', ');
    challengesByChain.set(chain, out);
  }
  return out;
}

/**
 * Refuses the request. The anonymous consumer with `anonymous_authz_exception: false` gets 401 and the route's
 * challenges, so a client can retry with credentials (Elasticsearch Shield's `authz_exception`); everyone else
 * gets Kong's answer.
 */
function refuse(ctx: RequestContext, c: Compiled, status: 401 | 403): void {
  ctx.refusal = 'acl';
  ctx.refusedBy = 'acl';
  if (ctx.anonymous && !c.anonymousAuthzException) {
    const challenges = challengesOf(ctx.runtime.chain);
    return ctx.error(401, UNAUTHORIZED, challenges === '' ? undefined : { 'WWW-Authenticate': challenges });
  }
  ctx.error(status, status === 403 ? FORBIDDEN : UNAUTHORIZED);
}

export const acl: PluginDefinition<AclConfig, Compiled> = {
  name: 'acl',
  priority: 950,
  version: '1.0.0',
  configSchema,
  check(plugin) {
    const c = plugin.config;
    const out: PluginCheck[] = [];
    if (nonEmpty(c.allow) && nonEmpty(c.deny)) {
      out.push({ path: ['config', 'deny'], message: "only one of these fields may be set: 'config.allow', 'config.deny'" });
    } else if (!nonEmpty(c.allow) && !nonEmpty(c.deny)) {
      out.push({ path: ['config'], message: "at least one of these fields must be non-empty: 'config.allow', 'config.deny'" });
    }
    if (c.include_consumer_groups) {
      out.push({ path: ['config', 'include_consumer_groups'], message: 'consumer groups are not supported by this gateway yet' });
    }
    // Kong's acl cannot be scoped to a consumer: it decides about consumers.
    if (plugin.consumer !== undefined) out.push({ path: ['consumer'], message: "value must be null ('acl' cannot be scoped to a consumer)" });
    return out;
  },
  // Without a consumer acl refuses (401); with one, as its groups decide.
  stops: (config, caller) => caller.consumer === undefined || aclRefuses(config, caller.groups),
  compile(config, build) {
    const c = {
      ...listOf(config),
      hideHeader: config.hide_groups_header,
      alwaysUseAuthenticatedGroups: config.always_use_authenticated_groups,
      anonymousAuthzException: config.anonymous_authz_exception,
      decisions: new Map<string, true | string>(),
    };
    const groupsByConsumer = new Map<string, Set<string>>();
    for (const a of build.entities.acls) {
      const set = groupsByConsumer.get(a.consumer);
      if (set) set.add(a.group);
      else groupsByConsumer.set(a.consumer, new Set([a.group]));
    }
    for (const [consumer, set] of groupsByConsumer) {
      const groups = [...set];
      c.decisions.set(consumer, refused(c, groups) ? true : groups.join(', '));
    }
    return c;
  },
  access(ctx, c) {
    const h = ctx.req.headers;
    const consumer = ctx.consumer;
    // Groups an auth plugin vouched for win over the anonymous consumer's acls, and over any consumer's with
    // always_use_authenticated_groups (Kong 3.8).
    const authenticated = consumer === undefined || ctx.credential === undefined || c.alwaysUseAuthenticatedGroups ? ctx.authenticatedGroups : undefined;
    if (authenticated !== undefined) {
      if (refused(c, authenticated)) return refuse(ctx, c, 403);
      if (!c.hideHeader) h['x-authenticated-groups'] = authenticated.join(', ');
      return;
    }
    // No consumer: 401, or 403 for a credential no consumer holds (ldap-auth), as Kong.
    if (consumer === undefined) return refuse(ctx, c, ctx.credential === undefined ? 401 : 403);
    const decision = c.decisions.get(consumer.id);
    if (decision === true) return refuse(ctx, c, 403);
    if (decision === undefined) {
      // A consumer without groups passes a deny list; an allow list refuses it, with 401 when it is anonymous (Kong).
      if (c.allowMode) return refuse(ctx, c, ctx.credential === undefined ? 401 : 403);
      if (!c.hideHeader) h['x-consumer-groups'] = '';
      return;
    }
    if (!c.hideHeader) h['x-consumer-groups'] = decision;
  },
};
