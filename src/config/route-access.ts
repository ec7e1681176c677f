import type { ConsumerEntity, EntitySet, RouteEntity } from './entities';
import { ChainResolver, type ChainEntry } from './snapshot';
import { hasAnonymous, resolveAnonymous } from '../plugins/auth/flow';

/**
 * How a route authenticates: no auth plugin, one required (named without "-auth": key, basic, jwt, hmac, …),
 * several required (AND), or any one with an anonymous fallback (OR).
 */
export type AuthMode = 'none' | 'AND' | 'OR+anon' | (string & {});

export interface RouteAccess {
  route: RouteEntity;
  mode: AuthMode;
  /** The route's auth plugins, in the order they run. */
  auth: readonly ChainEntry[];
  /** OR mode: the consumer a caller without valid credentials ends up as (the last auth plugin's fallback). */
  anonymous: ConsumerEntity | undefined;
  /** The plugin that answers a caller without credentials in place of the service; undefined when that caller gets through. */
  stoppedBy: ChainEntry | undefined;
}

/**
 * Who gets through each route without credentials, read from the config alone with the same chain resolution
 * as the snapshot (each plugin's most specific config; the anonymous consumer's own chain once it is set).
 */
export class AccessAnalysis {
  private readonly resolver: ChainResolver;
  private readonly groups = new Map<string, string[]>();
  private readonly entities: EntitySet;
  private lookups: { entities: EntitySet; consumerById: Map<string, ConsumerEntity>; consumerByUsername: Map<string, ConsumerEntity> } | undefined;

  constructor(entities: EntitySet) {
    this.entities = entities;
    this.resolver = ChainResolver.uncompiled(entities.plugins);
    for (const a of entities.acls) {
      const list = this.groups.get(a.consumer);
      if (list) list.push(a.group);
      else this.groups.set(a.consumer, [a.group]);
    }
  }

  /**
   * The consumers by id and by username, built the first time an anonymous fallback is looked up: most configs
   * have none, and for 100,000 consumers the two maps are ~25 MB, which a reload's checking process would add
   * on top of its peak.
   */
  private get consumers() {
    if (this.lookups === undefined) {
      const consumerById = new Map<string, ConsumerEntity>();
      const consumerByUsername = new Map<string, ConsumerEntity>();
      for (const c of this.entities.consumers) {
        consumerById.set(c.id, c);
        if (c.username !== undefined) consumerByUsername.set(c.username, c);
      }
      this.lookups = { entities: this.entities, consumerById, consumerByUsername };
    }
    return this.lookups;
  }

  of(route: RouteEntity): RouteAccess {
    const chain = this.resolver.chainFor(route.id, route.service, undefined);
    const auth = chain.filter((e) => e.def.authenticates);
    if (auth.length === 0) return { route, mode: 'none', auth, anonymous: undefined, stoppedBy: this.stopper(chain, undefined) };
    if (!auth.every((e) => hasAnonymous(e.plugin.config))) {
      const mode = auth.length > 1 ? 'AND' : auth[0].def.name.replace(/-auth$/, '');
      return { route, mode, auth, anonymous: undefined, stoppedBy: auth[0] };
    }
    // Every auth plugin failing leaves the caller as the last one's fallback; what runs after it decides.
    const last = auth[auth.length - 1];
    const anonymous = resolveAnonymous(last.plugin.config.anonymous, this.consumers)!;
    const after = this.resolver.chainFor(route.id, route.service, anonymous.id).filter((e) => e.priority < last.priority);
    return { route, mode: 'OR+anon', auth, anonymous, stoppedBy: this.stopper(after, anonymous) };
  }

  private stopper(chain: readonly ChainEntry[], consumer: ConsumerEntity | undefined): ChainEntry | undefined {
    const caller = { consumer, groups: consumer === undefined ? [] : (this.groups.get(consumer.id) ?? []) };
    return chain.find((e) => e.def.stops?.(e.plugin.config, caller) === true);
  }
}
