import type {
  AclEntity,
  BasicAuthCredentialEntity,
  ConsumerEntity,
  EntitySet,
  HmacAuthCredentialEntity,
  JwtSecretEntity,
  KeyAuthCredentialEntity,
  PluginEntity,
  RouteEntity,
  ServiceEntity,
} from './entities';
import { PLUGINS } from '../plugins';
import type { BuildContext, PluginDefinition } from '../plugins/types';
import { Router } from '../proxy/router';
import { indexCredentials } from '../plugins/basic-auth/passwords';
import { compileJwtCredential, type JwtCredential } from '../plugins/jwt/credentials';
import { upstreamTlsOf, type CertificateLookup, type UpstreamTls } from './upstream-tls';
import { compileUpstreams, type UpstreamSpec } from '../balancer/spec';
import { caCertificateOf, serverCertificateOf, type CaCertificate, type ServerCertificate } from './certificates';

export interface ChainEntry {
  readonly def: PluginDefinition;
  readonly conf: unknown;
  readonly plugin: PluginEntity;
  readonly priority: number;
}

export type Chain = readonly ChainEntry[];

export interface RouteRuntime {
  readonly route: RouteEntity;
  readonly service: ServiceEntity | undefined;
  readonly upstream: UpstreamTarget | undefined;
  /** When the service's host names an upstream: its spec, and each of its targets as this service reaches it. */
  readonly balanced: BalancedService | undefined;
  /** Plugins before any consumer is known, highest priority first. */
  readonly chain: Chain;
  /** For consumers with consumer-scoped plugins: the whole chain as it applies once that consumer is identified. */
  readonly consumerChains: ReadonlyMap<string, Chain> | undefined;
}

/** What the forwarder needs of a service, computed once. */
export interface UpstreamTarget {
  readonly protocol: 'http:' | 'https:';
  readonly host: string;
  readonly port: number;
  /** Host header sent upstream when preserve_host is off: host, plus :port unless it is the scheme's default. */
  readonly hostHeader: string;
  readonly connectTimeout: number;
  readonly readTimeout: number;
  readonly writeTimeout: number;
  readonly retries: number;
  /** How to talk TLS to an https upstream; undefined for http. */
  readonly tls: UpstreamTls | undefined;
}

export interface BalancedService {
  readonly spec: UpstreamSpec;
  /** Aligned with spec.targets. */
  readonly targets: readonly UpstreamTarget[];
}

/** One loaded configuration. Immutable: a reload builds a new one and swaps it in one assignment. */
export interface Snapshot {
  readonly hash: string;
  readonly loadedAt: Date;
  readonly entities: EntitySet;
  readonly router: Router;
  readonly routes: ReadonlyMap<string, RouteRuntime>;
  readonly consumersById: ReadonlyMap<string, ConsumerEntity>;
  readonly consumersByUsername: ReadonlyMap<string, ConsumerEntity>;
  readonly consumersByCustomId: ReadonlyMap<string, ConsumerEntity>;
  readonly keyAuthByKey: ReadonlyMap<string, KeyAuthCredentialEntity>;
  /** Passwords are all bcrypt hashes here: plaintext ones from the file are hashed when the snapshot is built. */
  readonly basicAuthByUsername: ReadonlyMap<string, BasicAuthCredentialEntity>;
  /** What basic-auth checks an unknown username's password against, so that it takes as long as a known one. */
  readonly basicAuthDecoy: BasicAuthCredentialEntity;
  /** By key, each with its public key parsed or its secret decoded. */
  readonly jwtByKey: ReadonlyMap<string, JwtCredential>;
  readonly hmacAuthByUsername: ReadonlyMap<string, HmacAuthCredentialEntity>;
  readonly aclsByConsumer: ReadonlyMap<string, readonly AclEntity[]>;
  /** Server certificates by id, parsed (PEM kept for TLS contexts; the key never leaves the process). */
  readonly certificatesById: ReadonlyMap<string, ServerCertificate>;
  /** Certificate id by SNI name (lower-case; exact, `*.x`, `x.*` or `*`). */
  readonly certificateIdBySni: ReadonlyMap<string, string>;
  /** CA certificates by id, parsed. */
  readonly caCertificatesById: ReadonlyMap<string, CaCertificate>;
  /** Compiled plugin state by plugin id, with the config it was compiled from (reused by the next reload when unchanged). */
  readonly compiledPlugins: ReadonlyMap<string, { readonly configKey: string; readonly conf: unknown }>;
  /** Upstreams by name. */
  readonly upstreams: ReadonlyMap<string, UpstreamSpec>;
}

function mapBy<T, K extends keyof T>(list: readonly T[], key: K, m = new Map<string, T>(), start = 0, end = list.length): Map<string, T> {
  for (let i = start; i < end; i++) {
    const e = list[i];
    const k = e[key];
    if (typeof k === 'string') m.set(k, e);
  }
  return m;
}

/**
 * The snapshot's lookups over consumers and credentials, the part of a build that grows with their number.
 * Filled as entities arrive (in file order, so the same entries win as in one pass), a build of a large config
 * is a series of short tasks instead of one long one.
 */
export class EntityIndexes {
  readonly consumersById = new Map<string, ConsumerEntity>();
  readonly consumersByUsername = new Map<string, ConsumerEntity>();
  readonly consumersByCustomId = new Map<string, ConsumerEntity>();
  readonly keyAuthByKey = new Map<string, KeyAuthCredentialEntity>();
  readonly jwtByKey = new Map<string, JwtCredential>();
  readonly hmacAuthByUsername = new Map<string, HmacAuthCredentialEntity>();
  readonly aclsByConsumer = new Map<string, AclEntity[]>();

  static of(entities: EntitySet): EntityIndexes {
    const indexes = new EntityIndexes();
    indexes.add('consumers', entities.consumers);
    indexes.add('keyauth_credentials', entities.keyauth_credentials);
    indexes.add('jwt_secrets', entities.jwt_secrets);
    indexes.add('hmacauth_credentials', entities.hmacauth_credentials);
    indexes.add('acls', entities.acls);
    return indexes;
  }

  add(kind: keyof EntitySet, items: readonly unknown[], start = 0, end = items.length): void {
    if (kind === 'consumers') {
      const consumers = items as ConsumerEntity[];
      mapBy(consumers, 'id', this.consumersById, start, end);
      mapBy(consumers, 'username', this.consumersByUsername, start, end);
      mapBy(consumers, 'custom_id', this.consumersByCustomId, start, end);
    } else if (kind === 'keyauth_credentials') {
      mapBy(items as KeyAuthCredentialEntity[], 'key', this.keyAuthByKey, start, end);
    } else if (kind === 'jwt_secrets') {
      for (let i = start; i < end; i++) {
        const secret = (items as JwtSecretEntity[])[i];
        this.jwtByKey.set(secret.key, compileJwtCredential(secret));
      }
    } else if (kind === 'hmacauth_credentials') {
      mapBy(items as HmacAuthCredentialEntity[], 'username', this.hmacAuthByUsername, start, end);
    } else if (kind === 'acls') {
      for (let i = start; i < end; i++) {
        const acl = (items as AclEntity[])[i];
        const list = this.aclsByConsumer.get(acl.consumer);
        if (list) list.push(acl);
        else this.aclsByConsumer.set(acl.consumer, [acl]);
      }
    }
  }
}

function upstreamOf(s: ServiceEntity, tls: UpstreamTls | undefined): UpstreamTarget {
  const defaultPort = s.protocol === 'https' ? 443 : 80;
  const host = s.host.includes(':') && !s.host.startsWith('[') ? `[${s.host}]` : s.host;
  return Object.freeze({
    protocol: s.protocol === 'https' ? 'https:' : 'http:',
    host: s.host.startsWith('[') ? s.host.slice(1, -1) : s.host,
    port: s.port,
    hostHeader: s.port === defaultPort ? host : `${host}:${s.port}`,
    connectTimeout: s.connect_timeout,
    readTimeout: s.read_timeout,
    writeTimeout: s.write_timeout,
    retries: s.retries,
    tls,
  });
}

/** A service's way to one target of its upstream: the service's protocol and timeouts, the target's address. */
function targetOf(s: ServiceEntity, spec: UpstreamSpec, index: number, tls: UpstreamTls | undefined): UpstreamTarget {
  const t = spec.targets[index];
  const defaultPort = s.protocol === 'https' ? 443 : 80;
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return Object.freeze({
    protocol: s.protocol === 'https' ? 'https:' : 'http:',
    host: t.host,
    port: t.port,
    // Kong: the upstream's host_header, else the target's host (and port unless the scheme's default).
    hostHeader: spec.entity.host_header ?? (t.port === defaultPort ? host : `${host}:${t.port}`),
    connectTimeout: s.connect_timeout,
    readTimeout: s.read_timeout,
    writeTimeout: s.write_timeout,
    retries: s.retries,
    tls,
  });
}

function balancedOf(s: ServiceEntity, upstreams: ReadonlyMap<string, UpstreamSpec>, tls: UpstreamTls | undefined): BalancedService | undefined {
  const spec = upstreams.get(s.host);
  if (spec === undefined) return undefined;
  // Every target is reached with the service's TLS settings (Kong: kong/runloop/upstream_ssl.lua, per service).
  return Object.freeze({ spec, targets: Object.freeze(spec.targets.map((_, i) => targetOf(s, spec, i, tls))) });
}

/** Builds the snapshot: every index and every route's plugin chain, so the request path only reads. */
export interface BuildOptions {
  /** The snapshot serves no traffic (explain): plugins open no connection. */
  offline?: boolean;
  /** The router already built for these entities (config checks build one). */
  router?: Router;
  /** The consumer and credential lookups, already built for these entities. */
  indexes?: EntityIndexes;
}

export function buildSnapshot(entities: EntitySet, hash: string, previous?: Snapshot, options: BuildOptions = {}): Snapshot {
  const { consumersById, consumersByUsername, consumersByCustomId, keyAuthByKey, jwtByKey, hmacAuthByUsername, aclsByConsumer } =
    options.indexes ?? EntityIndexes.of(entities);
  const servicesById = mapBy(entities.services, 'id');

  const compiledPlugins = new Map<string, { configKey: string; conf: unknown }>();
  const entries = new Map<PluginEntity, ChainEntry>();
  for (const plugin of entities.plugins) {
    if (!plugin.enabled) continue; // a disabled plugin is dropped entirely, as in Kong: it does not shadow wider ones
    const def = PLUGINS.get(plugin.name)!;
    const configKey = JSON.stringify(plugin.config);
    const prev = previous?.compiledPlugins.get(plugin.id);
    const build: BuildContext = {
      entities,
      consumerById: consumersById,
      consumerByUsername: consumersByUsername,
      previous: prev !== undefined && prev.configKey === configKey ? prev.conf : undefined,
      offline: options.offline,
    };
    const conf = def.compile ? def.compile(plugin.config, build, plugin) : plugin.config;
    compiledPlugins.set(plugin.id, { configKey, conf });
    entries.set(plugin, Object.freeze({ def, conf, plugin, priority: def.priority }));
  }

  const certificatesById = new Map<string, ServerCertificate>();
  for (const c of entities.certificates) certificatesById.set(c.id, reuseCertificate(previous, c) ?? serverCertificateOf(c));
  const caCertificatesById = new Map<string, CaCertificate>();
  for (const c of entities.ca_certificates) {
    const prev = previous?.caCertificatesById.get(c.id);
    caCertificatesById.set(c.id, prev !== undefined && prev.cert === c.cert ? prev : caCertificateOf(c));
  }
  // Once per service: routes of the same service share its TLS settings.
  const certificateLookup: CertificateLookup = {
    certificate: (id) => certificatesById.get(id),
    caCertificate: (id) => caCertificatesById.get(id)?.cert,
  };
  const tlsByService = new Map<ServiceEntity, UpstreamTls | undefined>();
  for (const service of entities.services) tlsByService.set(service, upstreamTlsOf(service, certificateLookup));

  const upstreams = compileUpstreams(entities);
  const balancedByService = new Map<string, BalancedService | undefined>();
  for (const s of entities.services) {
    const spec = upstreams.get(s.host);
    // The upstream's client certificate stands in for a service that names none.
    const fallback = spec?.entity.client_certificate;
    const tls = fallback !== undefined && s.client_certificate === undefined ? upstreamTlsOf(s, certificateLookup, fallback) : tlsByService.get(s);
    balancedByService.set(s.id, balancedOf(s, upstreams, tls));
  }

  const routes = new Map<string, RouteRuntime>();
  const resolver = new ChainResolver([...entries.values()]);
  for (const route of entities.routes) {
    const service = route.service !== undefined ? servicesById.get(route.service) : undefined;
    routes.set(
      route.id,
      Object.freeze({
        route,
        service,
        upstream: service ? upstreamOf(service, tlsByService.get(service)) : undefined,
        balanced: service ? balancedByService.get(service.id) : undefined,
        chain: resolver.chainFor(route.id, route.service, undefined),
        consumerChains: resolver.consumerChainsFor(route.id, route.service),
      }),
    );
  }

  const basicAuth = indexCredentials(entities.basicauth_credentials, previous);
  const certificateIdBySni = new Map<string, string>();
  for (const s of entities.snis) certificateIdBySni.set(s.name, s.certificate);
  const snapshot: Snapshot = {
    hash,
    loadedAt: new Date(),
    entities,
    router: options.router ?? new Router(entities.routes, servicesById),
    routes,
    consumersById,
    consumersByUsername,
    consumersByCustomId,
    keyAuthByKey,
    basicAuthByUsername: basicAuth.byUsername,
    basicAuthDecoy: basicAuth.decoy,
    jwtByKey,
    hmacAuthByUsername,
    aclsByConsumer,
    certificatesById,
    certificateIdBySni,
    caCertificatesById,
    compiledPlugins,
    upstreams,
  };
  return Object.freeze(snapshot);
}

/** The previous snapshot's parsed certificate when its PEM is unchanged (what the TLS listeners key their contexts on). */
function reuseCertificate(previous: Snapshot | undefined, c: { id: string; cert: string; key: string; cert_alt?: string; key_alt?: string }): ServerCertificate | undefined {
  const prev = previous?.certificatesById.get(c.id);
  if (prev === undefined) return undefined;
  return prev.cert === c.cert && prev.key === c.key && prev.certAlt === c.cert_alt && prev.keyAlt === c.key_alt ? prev : undefined;
}

/** Disposes compiled plugin state that the next snapshot no longer uses. */
export function retireSnapshot(old: Snapshot, next: Snapshot | undefined): void {
  const nameById = new Map(old.entities.plugins.map((p) => [p.id, p.name]));
  for (const [id, { conf }] of old.compiledPlugins) {
    if (next?.compiledPlugins.get(id)?.conf === conf) continue;
    PLUGINS.get(nameById.get(id)!)?.dispose?.(conf);
  }
}

/**
 * Kong's precedence: for each plugin name exactly one config applies, the most specific of
 * route+service+consumer, route+consumer, service+consumer, route+service, consumer, route, service, global.
 */
export class ChainResolver {
  private readonly byScope = new Map<string, ChainEntry[]>();
  private readonly consumersWithPlugins = new Set<string>();

  constructor(all: ChainEntry[]) {
    for (const e of all) {
      const key = ChainResolver.key(e.plugin.route, e.plugin.service, e.plugin.consumer);
      const list = this.byScope.get(key);
      if (list) list.push(e);
      else this.byScope.set(key, [e]);
      if (e.plugin.consumer !== undefined) this.consumersWithPlugins.add(e.plugin.consumer);
    }
  }

  /**
   * A resolver over the enabled plugins as written, for analysing a config without building it: entries carry
   * no compiled state (`conf` is undefined; read `plugin.config`).
   */
  static uncompiled(plugins: readonly PluginEntity[]): ChainResolver {
    const entries: ChainEntry[] = [];
    for (const plugin of plugins) {
      const def = PLUGINS.get(plugin.name)!;
      if (plugin.enabled) entries.push({ def, conf: undefined, plugin, priority: def.priority });
    }
    return new ChainResolver(entries);
  }

  private static key(route?: string, service?: string, consumer?: string): string {
    return `${route ?? ''}|${service ?? ''}|${consumer ?? ''}`;
  }

  chainFor(route: string, service: string | undefined, consumer: string | undefined): Chain {
    const levels: Array<[string | undefined, string | undefined, string | undefined]> = [];
    if (consumer !== undefined) {
      if (service !== undefined) levels.push([route, service, consumer]);
      levels.push([route, undefined, consumer]);
      if (service !== undefined) levels.push([undefined, service, consumer]);
    }
    if (service !== undefined) levels.push([route, service, undefined]);
    if (consumer !== undefined) levels.push([undefined, undefined, consumer]);
    levels.push([route, undefined, undefined]);
    if (service !== undefined) levels.push([undefined, service, undefined]);
    levels.push([undefined, undefined, undefined]);
    const chosen = new Map<string, ChainEntry>();
    for (const [r, s, c] of levels) {
      for (const e of this.byScope.get(ChainResolver.key(r, s, c)) ?? []) {
        if (!chosen.has(e.def.name)) chosen.set(e.def.name, e);
      }
    }
    const chain = [...chosen.values()].sort((a, b) => b.priority - a.priority || a.def.name.localeCompare(b.def.name));
    return Object.freeze(chain);
  }

  consumerChainsFor(route: string, service: string | undefined): ReadonlyMap<string, Chain> | undefined {
    if (this.consumersWithPlugins.size === 0) return undefined;
    const out = new Map<string, Chain>();
    for (const consumer of this.consumersWithPlugins) out.set(consumer, this.chainFor(route, service, consumer));
    return out;
  }
}
