import type { ConfigSource } from './source';
import { formatPath, type ConfigIssue, type PathSegment, type Severity } from './errors';
import { stableId } from './ids';
import { checkRouteHeaderName, checkRouteHeaderValue, checkRouteHost, checkRoutePath } from './route-rules';
import { didYouMean } from './suggest';
import { KONG_PLUGINS, PLUGINS } from '../plugins';
import { KONG_PROTOCOLS, SERVED_PROTOCOLS, unsupportedPlugin, unsupportedProtocol } from './kong-catalog';
import { defaultPort, parseServiceUrl } from './service-url';
import { envVarHint } from './env-vars';
import { normalizePath } from '../proxy/paths';
import { hasAnonymous } from '../plugins/auth/flow';
import { isBcryptHash, looksLikeBcryptHash } from '../plugins/basic-auth/passwords';
import { isSymmetric, parsePublicKey } from '../plugins/jwt/algorithms';
import { ChainResolver } from './snapshot';
import { isMasked, maskedSecretFields } from './secrets';
import { certDigest, checkSniName, countCertificates, expiresAt, isExpired, keyType, parseCertificate, parsePrivateKey } from './certificates';
import type {
  AclEntity,
  BasicAuthCredentialEntity,
  CaCertificateEntity,
  CertificateEntity,
  SniEntity,
  ConsumerEntity,
  EntitySet,
  HmacAuthCredentialEntity,
  JwtSecretEntity,
  KeyAuthCredentialEntity,
  PluginEntity,
  RouteEntity,
  ServiceEntity,
} from './entities';
import { emptyEntitySet } from './entities';
import type { TargetEntity, UpstreamEntity } from './entities';
import { checkUpstreamName, formatTarget, parseHostPort, upstreamEntityChecks } from './upstream-rules';

type Raw = Record<string, any>;

/** Where each flattened entity came from in the file, for error messages. */
export type EntityLocations = Map<object, PathSegment[]>;

/** Entities by id and by name, for resolving references. */
interface ReferenceIndex {
  get(key: string): { id: string } | undefined;
}

/**
 * Turns a validated document into flat entities: nesting undone, url shorthands expanded, references resolved to
 * ids, ids filled in, and every cross-entity rule checked. Issues are collected, not thrown. The `broken` entities
 * (schema errors of their own) are not checked again: a service, route or consumer among them stands in as a
 * placeholder that references can find, so that the rest of the file is checked as it would be without the error.
 */
export function normalize(
  source: ConfigSource,
  broken: ReadonlySet<object> = new Set(),
  options: NormalizeOptions = {},
): { entities: EntitySet; issues: ConfigIssue[]; locations: EntityLocations } {
  return new Normalizer(source, broken, options.releaseDocument === true).run();
}

export interface NormalizeOptions {
  /**
   * The caller has no use for `source.data` afterwards: each consumer's entry in it is let go once the last of
   * its entities is made, so that the two do not all stay alive together (for 100,000 consumers read from YAML,
   * ~30 MB of document beside the entities, at a checking process's peak).
   */
  releaseDocument?: boolean;
}

const isEntity = (e: unknown): e is Raw => e !== null && typeof e === 'object' && !Array.isArray(e);

/** The entries of an entity list, or none when it is not a list (the schema has reported that). */
function entries(container: unknown, key: string): Raw[] {
  const list = isEntity(container) ? container[key] : undefined;
  return Array.isArray(list) ? list : [];
}

const isReference = (ref: unknown) => typeof ref === 'string' || (isEntity(ref) && typeof ref.id === 'string');
const textOr = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
/** The services schema's host pattern (schemas/kong.schema.json), for a host that comes from a url. */
const SERVICE_HOST = /^[A-Za-z0-9._-]+$|^\[[0-9A-Fa-f:.]+\]$/;
/** A service's upstream TLS fields (kong/db/schema/entities/services.lua). */
const UPSTREAM_TLS_FIELDS = ['client_certificate', 'tls_verify', 'tls_verify_depth', 'ca_certificates'] as const;

class Normalizer {
  readonly issues: ConfigIssue[] = [];
  readonly locations: EntityLocations = new Map();
  readonly entities: EntitySet = emptyEntitySet();
  private readonly doc: Raw;
  private readonly routeAt = new Map<string, RouteEntity>();
  /** Entities whose id is written in the file: only those can clash on id (a derived id clashes on its natural key). */
  private readonly writtenIds = new Set<object>();
  private readonly pluginAt = new Map<string, PluginEntity>();
  private readonly legacyPaths: boolean;

  constructor(
    private readonly source: ConfigSource,
    private readonly broken: ReadonlySet<object>,
    private readonly releaseDocument: boolean,
  ) {
    this.doc = source.data as Raw;
    this.legacyPaths = this.doc._format_version === '1.1' || this.doc._format_version === '2.1';
  }

  report(path: PathSegment[], message: string, severity: Severity = 'error', atKey = false): void {
    const { line, col } = this.source.locate(path, atKey);
    this.issues.push({ file: this.source.file, line, col, path: formatPath(path), message, severity });
  }

  run() {
    const d = this.doc;
    // Pass 1: entities that others refer to.
    this.tlsEntities();
    entries(d, 'services').forEach((s: Raw, i: number) => this.service(s, ['services', i]));
    entries(d, 'consumers').forEach((c: Raw, i: number) => this.consumer(c, ['consumers', i]));
    this.checkUnique('services', 'id', this.entities.services);
    this.checkUnique('services', 'name', this.entities.services);
    this.checkUnique('consumers', 'id', this.entities.consumers);
    this.checkUnique('consumers', 'username', this.entities.consumers);
    this.checkUnique('consumers', 'custom_id', this.entities.consumers);
    const services = this.index(this.entities.services, 'name');
    const consumers = this.index(this.entities.consumers, 'username');
    this.upstreamsAndTargets();

    // Pass 2: routes (nested and top level), then what hangs off routes, services and consumers.
    entries(d, 'services').forEach((s: Raw, i: number) => {
      const service = this.entities.services[i];
      if (isEntity(s)) entries(s, 'routes').forEach((r: Raw, j: number) => this.route(r, ['services', i, 'routes', j], service.id));
    });
    entries(d, 'routes').forEach((r: Raw, i: number) => {
      const path: PathSegment[] = ['routes', i];
      const serviceId = !isEntity(r) || !isReference(r.service) ? undefined : this.resolve(r.service, services, 'service', 'services', [...path, 'service']);
      this.route(r, path, serviceId);
    });
    this.checkUnique('routes', 'id', this.entities.routes);
    this.checkUnique('routes', 'name', this.entities.routes);
    const routes = this.index(this.entities.routes, 'name');

    const pluginSites: Array<[Raw[], PathSegment[], Partial<Record<'service' | 'route' | 'consumer', string>>]> = [];
    entries(d, 'services').forEach((s: Raw, i: number) => {
      if (!isEntity(s)) return;
      const service = this.entities.services[i];
      pluginSites.push([entries(s, 'plugins'), ['services', i, 'plugins'], { service: service.id }]);
      entries(s, 'routes').forEach((r: Raw, j: number) => {
        const route = this.findRouteAt(['services', i, 'routes', j]);
        if (route) pluginSites.push([entries(r, 'plugins'), ['services', i, 'routes', j, 'plugins'], { route: route.id }]);
      });
    });
    entries(d, 'routes').forEach((r: Raw, i: number) => {
      const route = this.findRouteAt(['routes', i]);
      if (route) pluginSites.push([entries(r, 'plugins'), ['routes', i, 'plugins'], { route: route.id }]);
    });
    entries(d, 'consumers').forEach((c: Raw, i: number) => {
      if (isEntity(c)) pluginSites.push([entries(c, 'plugins'), ['consumers', i, 'plugins'], { consumer: this.entities.consumers[i].id }]);
    });
    for (const [list, at, parent] of pluginSites) {
      list.forEach((p: Raw, j: number) => this.plugin(p, [...at, j], parent, { services, routes, consumers }));
    }
    entries(d, 'plugins').forEach((p: Raw, i: number) => this.plugin(p, ['plugins', i], {}, { services, routes, consumers }));

    // Credentials: nested under a consumer, or top level with a consumer reference. Broken ones are skipped.
    const sound = (e: unknown): e is Raw => isEntity(e) && !this.broken.has(e);
    // The last pass over the document's consumers.
    const consumerEntries = entries(d, 'consumers');
    consumerEntries.forEach((c: Raw, i: number) => {
      if (this.releaseDocument) (consumerEntries as unknown[])[i] = undefined;
      if (!isEntity(c)) return;
      const consumerId = this.entities.consumers[i].id;
      entries(c, 'keyauth_credentials').forEach((k: Raw, j: number) => sound(k) && this.keyAuth(k, ['consumers', i, 'keyauth_credentials', j], consumerId, j));
      entries(c, 'basicauth_credentials').forEach((b: Raw, j: number) => sound(b) && this.basicAuth(b, ['consumers', i, 'basicauth_credentials', j], consumerId));
      entries(c, 'jwt_secrets').forEach((k: Raw, j: number) => sound(k) && this.jwtSecret(k, ['consumers', i, 'jwt_secrets', j], consumerId, j));
      entries(c, 'hmacauth_credentials').forEach((h: Raw, j: number) => sound(h) && this.hmacAuth(h, ['consumers', i, 'hmacauth_credentials', j], consumerId));
      entries(c, 'acls').forEach((a: Raw, j: number) => sound(a) && this.acl(a, ['consumers', i, 'acls', j], consumerId));
    });
    const topConsumer = (e: Raw, path: PathSegment[]) =>
      e.consumer === undefined
        ? (this.report([...path, 'consumer'], 'required field missing', 'error'), undefined)
        : this.resolve(e.consumer, consumers, 'consumer', 'consumers', [...path, 'consumer']);
    entries(d, 'keyauth_credentials').forEach((k: Raw, i: number) => {
      const id = sound(k) ? topConsumer(k, ['keyauth_credentials', i]) : undefined;
      if (id) this.keyAuth(k, ['keyauth_credentials', i], id, i, true);
    });
    entries(d, 'basicauth_credentials').forEach((b: Raw, i: number) => {
      const id = sound(b) ? topConsumer(b, ['basicauth_credentials', i]) : undefined;
      if (id) this.basicAuth(b, ['basicauth_credentials', i], id, true);
    });
    entries(d, 'jwt_secrets').forEach((k: Raw, i: number) => {
      const id = sound(k) ? topConsumer(k, ['jwt_secrets', i]) : undefined;
      if (id) this.jwtSecret(k, ['jwt_secrets', i], id, i, true);
    });
    entries(d, 'hmacauth_credentials').forEach((h: Raw, i: number) => {
      const id = sound(h) ? topConsumer(h, ['hmacauth_credentials', i]) : undefined;
      if (id) this.hmacAuth(h, ['hmacauth_credentials', i], id, true);
    });
    entries(d, 'acls').forEach((a: Raw, i: number) => {
      const id = sound(a) ? topConsumer(a, ['acls', i]) : undefined;
      if (id) this.acl(a, ['acls', i], id, true);
    });
    this.checkUnique('plugins', 'id', this.entities.plugins);
    this.checkUnique('plugins', 'instance_name', this.entities.plugins);
    this.checkUnique('keyauth_credentials', 'id', this.entities.keyauth_credentials);
    // The duplicated value is a secret: the error names the place, never the key.
    this.checkUnique('keyauth_credentials', 'key', this.entities.keyauth_credentials, true);
    this.checkUnique('basicauth_credentials', 'id', this.entities.basicauth_credentials);
    this.checkUnique('basicauth_credentials', 'username', this.entities.basicauth_credentials);
    this.checkUnique('jwt_secrets', 'id', this.entities.jwt_secrets);
    this.checkUnique('jwt_secrets', 'key', this.entities.jwt_secrets);
    this.checkUnique('hmacauth_credentials', 'id', this.entities.hmacauth_credentials);
    this.checkUnique('hmacauth_credentials', 'username', this.entities.hmacauth_credentials);
    this.checkUnique('acls', 'id', this.entities.acls);

    this.checkServiceTlsReferences(
      new Set(this.entities.certificates.map((c) => c.id)),
      new Set(this.entities.ca_certificates.map((c) => c.id)),
    );
    this.pluginChecks();
    this.authModeChecks();
    return { entities: this.entities, issues: this.issues, locations: this.locations };
  }

  private place<T extends object>(entity: T, path: PathSegment[], raw: Raw): T {
    this.locations.set(entity, path);
    if (raw.id !== undefined) this.writtenIds.add(entity);
    return entity;
  }

  private findRouteAt(path: PathSegment[]): RouteEntity | undefined {
    return this.routeAt.get(formatPath(path));
  }

  /** Built on the first reference to resolve: a large file that nests everything never needs one. */
  private index<T extends { id: string }>(list: T[], key: keyof T): ReferenceIndex {
    let m: Map<string, T> | undefined;
    const build = () => {
      m = new Map<string, T>();
      for (const e of list) {
        m.set(e.id, e);
        const k = e[key];
        if (typeof k === 'string' && !m.has(k)) m.set(k, e);
      }
      return m;
    };
    return { get: (k) => (m ?? build()).get(k) };
  }

  private resolve(ref: unknown, index: ReferenceIndex, field: string, entity: string, path: PathSegment[]): string | undefined {
    const key = typeof ref === 'string' ? ref : (ref as { id: string }).id;
    const found = index.get(key);
    if (!found) {
      const shown = typeof ref === 'string' ? ref : JSON.stringify(ref);
      this.report(path, `invalid reference '${field}: ${shown}' (no such entry in '${entity}')`);
      return undefined;
    }
    return found.id;
  }

  private checkUnique<T extends object>(entity: string, field: keyof T & string, list: T[], secret = false): void {
    if (field === 'id' && this.writtenIds.size === 0) return;
    const seen = new Map<unknown, T>();
    for (const e of list) {
      const v = e[field];
      if (v === undefined || (field === 'id' && !this.writtenIds.has(e))) continue;
      const first = seen.get(v);
      if (first === undefined) {
        seen.set(v, e);
        continue;
      }
      const at = this.locations.get(e)!;
      const firstAt = formatPath(this.locations.get(first)!);
      const shown = secret ? `the same ${field} as ${firstAt}` : `${field} set to '${String(v)}'`;
      this.report(secret ? at : [...at, field], `uniqueness violation: '${entity}' entity with ${shown} already declared${secret ? '' : ` at ${firstAt}`}`);
    }
  }

  /** Upstreams, then their targets: nested, or top level naming their upstream. */
  private upstreamsAndTargets(): void {
    const d = this.doc;
    entries(d, 'upstreams').forEach((u: Raw, i: number) => this.upstream(u, ['upstreams', i]));
    this.checkUnique('upstreams', 'id', this.entities.upstreams);
    this.checkUnique('upstreams', 'name', this.entities.upstreams);
    const byPath = new Map<string, UpstreamEntity>();
    for (const u of this.entities.upstreams) byPath.set(formatPath(this.locations.get(u)!), u);
    entries(d, 'upstreams').forEach((u: Raw, i: number) => {
      const upstream = byPath.get(formatPath(['upstreams', i]));
      if (upstream === undefined || !isEntity(u)) return;
      entries(u, 'targets').forEach((t: Raw, j: number) => {
        const at: PathSegment[] = ['upstreams', i, 'targets', j];
        if (isEntity(t) && t.upstream !== undefined) this.report([...at, 'upstream'], 'value must be null (a nested target belongs to its upstream)');
        this.target(t, at, upstream.id);
      });
    });
    const upstreams = this.index(this.entities.upstreams, 'name');
    entries(d, 'targets').forEach((t: Raw, i: number) => {
      const at: PathSegment[] = ['targets', i];
      if (!isEntity(t) || this.broken.has(t)) return;
      if (t.upstream === undefined) return void this.report([...at, 'upstream'], 'required field missing');
      const id = this.resolve(t.upstream, upstreams, 'upstream', 'upstreams', [...at, 'upstream']);
      if (id !== undefined) this.target(t, at, id);
    });
    // Kong's cache key for a target is (upstream, target): one address once per upstream.
    const seen = new Map<string, TargetEntity>();
    for (const t of this.entities.targets) {
      const key = `${t.upstream}\0${t.target}`;
      const first = seen.get(key);
      if (first === undefined) seen.set(key, t);
      else {
        const firstAt = formatPath(this.locations.get(first)!);
        this.report([...this.locations.get(t)!, 'target'], `uniqueness violation: target '${t.target}' of this upstream already declared at ${firstAt}`);
      }
    }
    this.checkUnique('targets', 'id', this.entities.targets);
  }

  private upstream(u: Raw, path: PathSegment[]): void {
    if (!isEntity(u) || this.broken.has(u)) return;
    const nameError = checkUpstreamName(u.name);
    if (nameError !== undefined) this.report([...path, 'name'], nameError);
    for (const [field, message] of upstreamEntityChecks(u)) this.report([...path, ...field.split('.')], message);
    const upstream: UpstreamEntity = {
      id: u.id ?? stableId('upstreams', u.name),
      name: u.name,
      algorithm: u.algorithm,
      hash_on: u.hash_on,
      hash_fallback: u.hash_fallback,
      hash_on_cookie_path: u.hash_on_cookie_path,
      slots: u.slots,
      healthchecks: u.healthchecks,
      use_srv_name: u.use_srv_name,
    };
    for (const field of [
      'hash_on_header', 'hash_fallback_header', 'hash_on_cookie', 'hash_on_query_arg', 'hash_fallback_query_arg', 'hash_on_uri_capture',
      'hash_fallback_uri_capture', 'host_header', 'tags',
    ] as const) {
      if (u[field] !== undefined) (upstream as unknown as Raw)[field] = u[field];
    }
    if (u.client_certificate !== undefined) upstream.client_certificate = typeof u.client_certificate === 'string' ? u.client_certificate : u.client_certificate.id;
    this.entities.upstreams.push(this.place(upstream, path, u));
  }

  private target(t: Raw, path: PathSegment[], upstream: string): void {
    if (!isEntity(t) || this.broken.has(t)) return;
    const parsed = parseHostPort(t.target);
    if (parsed === undefined) {
      this.report([...path, 'target'], `Invalid target ('${t.target}'); not a valid hostname or ip address${envVarHint(t.target)}`);
      return;
    }
    const address = formatTarget(parsed);
    const target: TargetEntity = { id: t.id ?? stableId('targets', `${upstream}:${address}`), upstream, target: address, weight: t.weight };
    if (t.tags !== undefined) target.tags = t.tags;
    this.entities.targets.push(this.place(target, path, t));
  }

  private service(s: Raw, path: PathSegment[]): void {
    if (!isEntity(s) || this.broken.has(s)) {
      // A placeholder that routes and references can find; its own errors are reported already.
      const e: Raw = isEntity(s) ? s : {};
      if (KONG_PROTOCOLS.has(e.protocol) && typeof e.url !== 'string') this.checkProtocol(e.protocol, 'service', [...path, 'protocol']);
      const placeholder: ServiceEntity = {
        id: textOr(e.id, stableId('services', textOr(e.name, formatPath(path)))),
        protocol: 'http', host: '', port: 80, retries: 5, connect_timeout: 60000, read_timeout: 60000, write_timeout: 60000, enabled: true,
      };
      if (typeof e.name === 'string') placeholder.name = e.name;
      this.entities.services.push(this.place(placeholder, path, e));
      return;
    }
    let protocol = s.protocol;
    let host = s.host;
    let port = s.port;
    let svcPath = s.path;
    let protocolAt: PathSegment[] = [...path, 'protocol'];
    if (s.url !== undefined) {
      // Kong's shorthand: the url gives all four parts (prepare() has dropped any written beside it).
      const u = parseServiceUrl(s.url);
      protocolAt = [...path, 'url'];
      if ('error' in u) this.report([...path, 'url'], u.error);
      else {
        ({ protocol, host, port, path: svcPath } = u);
        if (!SERVICE_HOST.test(host)) this.report([...path, 'url'], `invalid hostname in url '${s.url}'${envVarHint(s.url)}`);
      }
    } else if (host === undefined) {
      this.report([...path, 'host'], 'required field missing');
    }
    protocol = protocol ?? (port === 443 ? 'https' : 'http');
    this.checkProtocol(protocol, 'service', protocolAt);
    port = port ?? defaultPort(protocol);
    if (svcPath !== undefined && svcPath.includes('//')) this.report([...path, 'path'], 'must not have empty segments');
    const service: ServiceEntity = {
      id: s.id ?? stableId('services', s.name ?? formatPath(path)),
      protocol,
      host: host ?? '',
      port,
      retries: s.retries,
      connect_timeout: s.connect_timeout,
      read_timeout: s.read_timeout,
      write_timeout: s.write_timeout,
      enabled: s.enabled,
    };
    if (s.name !== undefined) service.name = s.name;
    if (svcPath !== undefined) service.path = svcPath;
    if (s.tags !== undefined) service.tags = s.tags;
    this.upstreamTls(s, service, path);
    this.entities.services.push(this.place(service, path, s));
  }

  /**
   * A service's upstream TLS fields, which Kong's services schema allows only on https (and tls) services. The
   * certificates they name are checked once those are known (checkServiceTlsReferences).
   */
  private upstreamTls(s: Raw, service: ServiceEntity, path: PathSegment[]): void {
    const given = UPSTREAM_TLS_FIELDS.filter((f) => s[f] !== undefined);
    if (given.length === 0) return;
    if (service.protocol !== 'https') {
      for (const f of given) this.report([...path, f], `value must be null: only an https service talks TLS to its upstream (protocol is '${service.protocol}')`);
      return;
    }
    if (s.client_certificate !== undefined) service.client_certificate = typeof s.client_certificate === 'string' ? s.client_certificate : s.client_certificate.id;
    if (s.tls_verify !== undefined) service.tls_verify = s.tls_verify;
    if (s.tls_verify_depth !== undefined) service.tls_verify_depth = s.tls_verify_depth;
    if (s.ca_certificates !== undefined) service.ca_certificates = s.ca_certificates;
    if (service.tls_verify !== true) {
      for (const f of ['tls_verify_depth', 'ca_certificates'] as const) {
        if (s[f] !== undefined) this.report([...path, f], `has no effect: tls_verify is ${service.tls_verify === false ? 'off' : 'not set (off, as Kong\'s proxy_ssl_verify)'}`, 'warning');
      }
    }
  }

  /**
   * Every certificate a service names for its upstream TLS exists: `certificates` ids for client_certificate,
   * `ca_certificates` ids for ca_certificates (by id only: neither entity has a name).
   */
  private checkServiceTlsReferences(certificateIds: ReadonlySet<string>, caCertificateIds: ReadonlySet<string>): void {
    for (const service of this.entities.services) {
      if (service.client_certificate === undefined && service.ca_certificates === undefined) continue;
      const at = this.locations.get(service)!;
      const id = service.client_certificate;
      if (id !== undefined && !certificateIds.has(id)) {
        this.report([...at, 'client_certificate'], `invalid reference 'client_certificate: ${id}' (no such entry in 'certificates')`);
      }
      service.ca_certificates?.forEach((ca, i) => {
        if (!caCertificateIds.has(ca)) this.report([...at, 'ca_certificates', i], `invalid reference '${ca}' (no such entry in 'ca_certificates')`);
      });
    }
    for (const upstream of this.entities.upstreams) {
      const id = upstream.client_certificate;
      if (id !== undefined && !certificateIds.has(id)) {
        this.report([...this.locations.get(upstream)!, 'client_certificate'], `invalid reference 'client_certificate: ${id}' (no such entry in 'certificates')`);
      }
    }
  }

  /** A route's or service's protocol this gateway does not serve is an error naming why; true when it serves it. */
  private checkProtocol(protocol: string, entity: 'route' | 'service', at: PathSegment[]): boolean {
    const why = unsupportedProtocol(protocol, entity);
    if (why !== undefined) this.report(at, why);
    return why === undefined;
  }

  /**
   * A path of a 1.1 or 2.1 file as Kong 3.x migrates it (kong/db/migrations/migrate_path_280_300.lua): paths of
   * only unreserved characters are normalized, any other path was a regex and gets the `~` that 3.0 requires. A
   * path that had a `~` already gets a second one: a regex starting with '~', which no request path matches.
   */
  private migratePath(p: string, at: PathSegment[]): string {
    if (/^[A-Za-z0-9.\-_~/%]*$/.test(p)) return p.startsWith('/') ? (normalizePath(p) ?? p) : p;
    if (p.startsWith('~')) {
      this.report(
        at,
        `in a format ${this.doc._format_version} file every path with regex characters is a regex, so Kong 3.x reads this one as '~${p}', ` +
          "a regex that starts with '~' and never matches: drop the leading '~', or write the file as _format_version \"3.0\"",
        'warning',
      );
    }
    return `~${p}`;
  }

  private route(r: Raw, path: PathSegment[], serviceId: string | undefined): void {
    const served = !isEntity(r) || !Array.isArray(r.protocols)
      ? true
      : r.protocols.map((p: unknown, i: number) => typeof p !== 'string' || !KONG_PROTOCOLS.has(p) || this.checkProtocol(p, 'route', [...path, 'protocols', i])).every(Boolean);
    if (!isEntity(r) || this.broken.has(r)) {
      // A placeholder that nested plugins and references can find; its own errors are reported already.
      const e: Raw = isEntity(r) ? r : {};
      const placeholder = {
        id: textOr(e.id, stableId('routes', textOr(e.name, `${serviceId ?? ''}:${formatPath(path)}`))),
        protocols: ['http', 'https'], strip_path: true, preserve_host: false, regex_priority: 0, path_handling: 'v0',
        https_redirect_status_code: 426, request_buffering: true, response_buffering: true,
      } as RouteEntity;
      if (typeof e.name === 'string') placeholder.name = e.name;
      if (serviceId !== undefined) placeholder.service = serviceId;
      this.entities.routes.push(this.place(placeholder, path, e));
      this.routeAt.set(formatPath(path), placeholder);
      return;
    }
    if (path[0] === 'services' && r.service !== undefined) this.report([...path, 'service'], 'value must be null (a nested route belongs to its service)');
    const has = (k: string) => r[k] !== undefined && (Array.isArray(r[k]) ? r[k].length > 0 : Object.keys(r[k]).length > 0);
    // A stream route matches on other fields, and is refused for its protocol already.
    const tlsRoute = r.protocols.includes('https');
    if (served && !has('methods') && !has('hosts') && !has('headers') && !has('paths') && !(tlsRoute && has('snis'))) {
      this.report(path, tlsRoute ? "must set one of 'methods', 'hosts', 'headers', 'paths', 'snis'" : "must set one of 'methods', 'hosts', 'headers', 'paths'");
    }
    const paths: string[] | undefined = r.paths?.map((p: string, i: number) => {
      const migrated = this.legacyPaths ? this.migratePath(p, [...path, 'paths', i]) : p;
      const err = checkRoutePath(migrated);
      if (err) this.report([...path, 'paths', i], err);
      return migrated;
    });
    (r.hosts ?? []).forEach((h: string, i: number) => {
      const err = checkRouteHost(h);
      if (err) this.report([...path, 'hosts', i], err + envVarHint(h));
    });
    let headers: Record<string, string[]> | undefined;
    if (r.headers !== undefined) {
      headers = {};
      for (const [name, values] of Object.entries(r.headers as Record<string, string[]>)) {
        const err = checkRouteHeaderName(name);
        if (err) this.report([...path, 'headers', name], err, 'error', true);
        values.forEach((value, i) => {
          const bad = checkRouteHeaderValue(value);
          if (bad) this.report([...path, 'headers', name, i], bad);
        });
        headers[name] = values;
      }
    }
    const route: RouteEntity = {
      id: r.id ?? stableId('routes', r.name ?? `${serviceId ?? ''}:${formatPath(path)}`),
      protocols: r.protocols,
      strip_path: r.strip_path,
      preserve_host: r.preserve_host,
      regex_priority: r.regex_priority,
      path_handling: r.path_handling,
      https_redirect_status_code: r.https_redirect_status_code,
      request_buffering: r.request_buffering,
      response_buffering: r.response_buffering,
    };
    if (r.name !== undefined) route.name = r.name;
    if (serviceId !== undefined) route.service = serviceId;
    if (r.methods !== undefined) route.methods = r.methods;
    if (r.hosts !== undefined) route.hosts = r.hosts;
    if (r.snis !== undefined && r.snis.length > 0) route.snis = this.routeSnis(r, path);
    if (paths !== undefined) route.paths = paths;
    if (headers !== undefined) route.headers = headers;
    if (r.tags !== undefined) route.tags = r.tags;
    this.entities.routes.push(this.place(route, path, r));
    this.routeAt.set(formatPath(path), route);
  }

  /** A route's snis, lower-case: only an https route has a TLS server name to match (kong/db/schema/entities/routes.lua). */
  private routeSnis(r: Raw, path: PathSegment[]): string[] {
    if (!r.protocols.includes('https')) {
      this.report([...path, 'snis'], "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'");
    }
    return (r.snis as string[]).map((name, i) => {
      const err = name === '*' ? 'invalid value: *' : checkSniName(name);
      if (err) this.report([...path, 'snis', i], err);
      return name.toLowerCase();
    });
  }

  /**
   * certificates (each with its nested snis), top-level snis, ca_certificates. Every PEM is parsed here, so that a
   * bad certificate, a key that does not belong to its certificate or an expired certificate is reported at its
   * place; the snapshot parses them again into what the TLS listeners serve.
   */
  private tlsEntities(): void {
    const d = this.doc;
    const sound = (e: unknown): e is Raw => isEntity(e) && !this.broken.has(e);
    const digestCount = new Map<string, number>();
    entries(d, 'certificates').forEach((c: Raw, i: number) => {
      if (!isEntity(c)) return;
      const path: PathSegment[] = ['certificates', i];
      const digest = sound(c) ? this.checkCertificate(c, path) : undefined;
      // A certificate has no name: its id derives from its content (and its rank among copies of the same).
      const seed = digest ?? formatPath(path);
      const n = digestCount.get(seed) ?? 0;
      digestCount.set(seed, n + 1);
      const cert: CertificateEntity = {
        id: textOr(c.id, stableId('certificates', n === 0 ? seed : `${seed}:${n}`)),
        cert: textOr(c.cert, ''),
        key: textOr(c.key, ''),
        snis: [],
      };
      if (typeof c.cert_alt === 'string') cert.cert_alt = c.cert_alt;
      if (typeof c.key_alt === 'string') cert.key_alt = c.key_alt;
      if (Array.isArray(c.tags)) cert.tags = c.tags;
      this.entities.certificates.push(this.place(cert, path, c));
    });
    this.checkUnique('certificates', 'id', this.entities.certificates);
    const certificates = this.index(this.entities.certificates, 'id');

    entries(d, 'certificates').forEach((c: Raw, i: number) => {
      if (!isEntity(c)) return;
      const owner = this.entities.certificates[i].id;
      entries(c, 'snis').forEach((s: Raw, j: number) => {
        const path: PathSegment[] = ['certificates', i, 'snis', j];
        if (!sound(s)) return;
        if (s.certificate !== undefined) this.report([...path, 'certificate'], 'value must be null (a nested sni belongs to its certificate)');
        this.sni(s, path, owner);
      });
    });
    entries(d, 'snis').forEach((s: Raw, i: number) => {
      const path: PathSegment[] = ['snis', i];
      if (!sound(s)) return;
      if (s.certificate === undefined) return this.report([...path, 'certificate'], 'required field missing');
      const id = this.resolve(s.certificate, certificates, 'certificate', 'certificates', [...path, 'certificate']);
      if (id !== undefined) this.sni(s, path, id);
    });
    this.checkUnique('snis', 'id', this.entities.snis);
    this.checkUnique('snis', 'name', this.entities.snis);
    const byId = new Map(this.entities.certificates.map((c) => [c.id, c]));
    for (const sni of this.entities.snis) byId.get(sni.certificate)?.snis.push(sni.name);

    entries(d, 'ca_certificates').forEach((c: Raw, i: number) => {
      if (!sound(c)) return;
      const path: PathSegment[] = ['ca_certificates', i];
      const digest = this.checkCaCertificate(c, path) ?? '';
      const ca: CaCertificateEntity = { id: c.id ?? stableId('ca_certificates', digest || formatPath(path)), cert: c.cert, cert_digest: digest };
      if (c.tags !== undefined) ca.tags = c.tags;
      this.entities.ca_certificates.push(this.place(ca, path, c));
    });
    this.checkUnique('ca_certificates', 'id', this.entities.ca_certificates);
    this.checkUnique('ca_certificates', 'cert_digest', this.entities.ca_certificates);
  }

  private sni(s: Raw, path: PathSegment[], certificate: string): void {
    const err = checkSniName(s.name);
    if (err) this.report([...path, 'name'], err);
    const name = String(s.name).toLowerCase();
    const sni: SniEntity = { id: s.id ?? stableId('snis', name), name, certificate };
    if (s.tags !== undefined) sni.tags = s.tags;
    this.entities.snis.push(this.place(sni, path, s));
  }

  /** Checks one certificate's pair(s); returns the main certificate's digest when it parses. */
  private checkCertificate(c: Raw, path: PathSegment[]): string | undefined {
    const main = this.checkPair(c.cert, c.key, path, 'cert', 'key', 'certificate does not match key');
    if ((c.cert_alt === undefined) !== (c.key_alt === undefined)) {
      this.report([...path, c.cert_alt === undefined ? 'cert_alt' : 'key_alt'], "all or none of these fields must be set: 'cert_alt', 'key_alt'");
    } else if (c.cert_alt !== undefined) {
      const alt = this.checkPair(c.cert_alt, c.key_alt, path, 'cert_alt', 'key_alt', 'alternative certificate does not match key');
      if (main !== undefined && alt !== undefined && keyType(main) === keyType(alt)) {
        this.report(
          [...path, 'cert_alt'],
          'certificate and alternative certificate need to have different type (e.g. RSA and ECDSA), the provided certificates were both of the same type',
        );
      }
    }
    return main === undefined ? undefined : certDigest(main);
  }

  private checkPair(certPem: string, keyPem: string, path: PathSegment[], certField: string, keyField: string, mismatch: string) {
    const cert = parseCertificate(certPem);
    const key = isMasked(keyPem)
      ? { error: 'a masked key (as the Admin API shows private keys unless --admin-show-secrets): give the real key' as const }
      : parsePrivateKey(keyPem);
    if (cert.error !== undefined) this.report([...path, certField], cert.error);
    if (key.error !== undefined) this.report([...path, keyField], key.error);
    if (cert.error !== undefined) return undefined;
    if (key.error === undefined && !cert.x509.checkPrivateKey(key.key)) this.report([...path, keyField], mismatch);
    const now = Date.now();
    if (isExpired(cert.x509, now)) {
      this.report([...path, certField], `certificate expired on ${expiresAt(cert.x509).toISOString()} ("Not After" is in the past): clients will refuse it`, 'warning');
    } else if (new Date(cert.x509.validFrom).getTime() > now) {
      this.report([...path, certField], `certificate not valid before ${new Date(cert.x509.validFrom).toISOString()}: clients will refuse it until then`, 'warning');
    }
    return cert.x509;
  }

  /** kong/db/schema/entities/ca_certificates.lua: one certificate, a CA, not expired. Returns its digest. */
  private checkCaCertificate(c: Raw, path: PathSegment[]): string | undefined {
    const at = [...path, 'cert'];
    const parsed = parseCertificate(c.cert);
    if (parsed.error !== undefined) return void this.report(at, parsed.error);
    if (countCertificates(c.cert) > 1) this.report(at, 'please submit only one certificate at a time');
    else if (isExpired(parsed.x509)) this.report(at, 'certificate expired, "Not After" time is in the past');
    else if (!parsed.x509.ca) this.report(at, 'certificate does not appear to be a CA because it is missing the "CA" basic constraint');
    const digest = certDigest(parsed.x509);
    if (c.cert_digest !== undefined && c.cert_digest.toLowerCase() !== digest) {
      this.report([...path, 'cert_digest'], `does not match the certificate (its SHA-256 is ${digest}): ignored, as Kong computes it from 'cert'`, 'warning');
    }
    return digest;
  }

  private consumer(c: Raw, path: PathSegment[]): void {
    if (!isEntity(c) || this.broken.has(c)) {
      // A placeholder that references can find; its own errors are reported already.
      const e: Raw = isEntity(c) ? c : {};
      const placeholder: ConsumerEntity = { id: textOr(e.id, stableId('consumers', textOr(e.username, `custom_id:${textOr(e.custom_id, formatPath(path))}`))) };
      if (typeof e.username === 'string') placeholder.username = e.username;
      if (typeof e.custom_id === 'string') placeholder.custom_id = e.custom_id;
      this.entities.consumers.push(this.place(placeholder, path, e));
      return;
    }
    if (c.username === undefined && c.custom_id === undefined) {
      this.report(path, "at least one of these fields must be non-empty: 'custom_id', 'username'");
    }
    const consumer: ConsumerEntity = { id: c.id ?? stableId('consumers', c.username ?? `custom_id:${c.custom_id ?? formatPath(path)}`) };
    if (c.username !== undefined) consumer.username = c.username;
    if (c.custom_id !== undefined) consumer.custom_id = c.custom_id;
    if (c.tags !== undefined) consumer.tags = c.tags;
    this.entities.consumers.push(this.place(consumer, path, c));
  }

  private plugin(
    p: Raw,
    path: PathSegment[],
    parent: Partial<Record<'service' | 'route' | 'consumer', string>>,
    idx: { services: ReferenceIndex; routes: ReferenceIndex; consumers: ReferenceIndex },
  ): void {
    if (!isEntity(p)) return;
    const scope = { ...parent };
    const nested = Object.keys(parent).length > 0;
    for (const field of ['service', 'route', 'consumer'] as const) {
      if (p[field] === undefined || !isReference(p[field])) continue;
      if (nested) {
        this.report([...path, field], 'value must be null (a nested plugin takes its scope from its parent; use top-level plugins for combinations)');
        continue;
      }
      const index = field === 'service' ? idx.services : field === 'route' ? idx.routes : idx.consumers;
      const id = this.resolve(p[field], index, field, `${field}s`, [...path, field]);
      if (id) scope[field] = id;
    }
    if (typeof p.name !== 'string') return;
    const def = PLUGINS.get(p.name);
    if (!def) {
      this.report([...path, 'name'], unsupportedPlugin(p.name, didYouMean(p.name, [...PLUGINS.keys(), ...KONG_PLUGINS])));
      return;
    }
    if (this.broken.has(p)) return;
    if (def.authenticates && scope.consumer !== undefined) {
      this.report([...path, nested ? 'name' : 'consumer'], `value must be null ('${p.name}' identifies consumers, so it cannot be scoped to one)`);
    }
    if (def.noConsumer && scope.consumer !== undefined) {
      this.report([...path, nested ? 'name' : 'consumer'], `value must be null ('${p.name}' cannot be scoped to a consumer, as in Kong)`);
    }
    const plugin: PluginEntity = {
      id: p.id ?? stableId('plugins', `${p.name}:${scope.route ?? ''}:${scope.service ?? ''}:${scope.consumer ?? ''}`),
      name: p.name,
      config: p.config,
      protocols: this.pluginProtocols(p.protocols, [...path, 'protocols']),
      enabled: p.enabled,
    };
    if (p.instance_name !== undefined) plugin.instance_name = p.instance_name;
    if (scope.service !== undefined) plugin.service = scope.service;
    if (scope.route !== undefined) plugin.route = scope.route;
    if (scope.consumer !== undefined) plugin.consumer = scope.consumer;
    if (p.tags !== undefined) plugin.tags = p.tags;
    for (const at of maskedSecretFields(p.config)) {
      this.report([...path, 'config', ...at], 'a masked secret (as the Admin API shows secrets unless --admin-show-secrets): give the real value');
    }
    // Two plugins of one name on one scope: Kong reports this as a primary-key collision.
    const scopeKey = `${plugin.name}\0${plugin.route}\0${plugin.service}\0${plugin.consumer}`;
    const clash = this.pluginAt.get(scopeKey);
    if (clash) {
      this.report(path, `uniqueness violation: plugin '${plugin.name}' is already configured on the same scope at ${formatPath(this.locations.get(clash)!)}`);
      return;
    }
    this.pluginAt.set(scopeKey, plugin);
    this.entities.plugins.push(this.place(plugin, path, p));
  }

  /**
   * A plugin's protocols without those of routes this gateway never has (stream, WebSocket): Kong Enterprise's
   * decK dumps list ws and wss on every plugin, which changes nothing here, so they are dropped with a warning.
   */
  private pluginProtocols(protocols: string[], at: PathSegment[]): string[] {
    const kept = protocols.filter((p) => SERVED_PROTOCOLS.has(p) || p === 'grpc' || p === 'grpcs');
    if (kept.length < protocols.length) {
      const dropped = protocols.filter((p) => !kept.includes(p)).map((p) => `'${p}'`);
      this.report(at, `${dropped.join(', ')} ignored: this gateway has no such routes (stream routes are not supported, WebSocket routes are Kong Enterprise's)`, 'warning');
    }
    return kept;
  }

  private pluginChecks(): void {
    for (const plugin of this.entities.plugins) {
      const def = PLUGINS.get(plugin.name)!;
      if (!def.check) continue;
      const at = this.locations.get(plugin)!;
      for (const c of def.check(plugin, this.entities)) this.report([...at, ...c.path], c.message, c.severity ?? 'error');
    }
  }

  /**
   * Kong leaves undefined what happens when the auth plugins that apply to one route mix OR mode (anonymous set)
   * and AND mode (anonymous empty). Here it is an error on each anonymous setting, once per route it affects.
   */
  private authModeChecks(): void {
    const auth = this.entities.plugins.filter((p) => PLUGINS.get(p.name)!.authenticates);
    if (auth.length < 2) return;
    const resolver = ChainResolver.uncompiled(auth);
    for (const route of this.entities.routes) {
      const chain = resolver.chainFor(route.id, route.service, undefined);
      const and = chain.filter((e) => !hasAnonymous(e.plugin.config));
      if (and.length === 0 || and.length === chain.length) continue;
      const others = and.map((e) => `'${e.plugin.name}' (${formatPath(this.locations.get(e.plugin)!)})`).join(', ');
      for (const e of chain) {
        if (!hasAnonymous(e.plugin.config)) continue;
        this.report(
          [...this.locations.get(e.plugin)!, 'config', 'anonymous'],
          `auth plugins on route '${route.name ?? route.id}' mix anonymous and non-anonymous: ${others} ${and.length > 1 ? 'have' : 'has'} no anonymous; set it on all of them (any one credential passes) or on none (every credential is required)`,
        );
      }
    }
  }

  private keyAuth(k: Raw, path: PathSegment[], consumer: string, ordinal: number, topLevel = false): void {
    if (!topLevel && k.consumer !== undefined) this.report([...path, 'consumer'], 'value must be null (a nested credential belongs to its consumer)');
    // The id never derives from the key itself: ids are shown in headers and logs, keys are secrets.
    const cred: KeyAuthCredentialEntity = { id: k.id ?? stableId('keyauth_credentials', `${consumer}:${topLevel ? 'top' : 'nested'}:${ordinal}`), consumer, key: k.key };
    if (typeof k.key === 'string' && isMasked(k.key)) {
      this.report([...path, 'key'], 'a masked key (as the Admin API shows keys unless --admin-show-secrets): give the real key');
    }
    if (k.tags !== undefined) cred.tags = k.tags;
    this.entities.keyauth_credentials.push(this.place(cred, path, k));
  }

  private basicAuth(b: Raw, path: PathSegment[], consumer: string, topLevel = false): void {
    if (!topLevel && b.consumer !== undefined) this.report([...path, 'consumer'], 'value must be null (a nested credential belongs to its consumer)');
    // No message quotes the password.
    if (this.doc._transform === false && !isBcryptHash(b.password)) {
      this.report(
        [...path, 'password'],
        "with '_transform: false' Kong takes this password as already hashed (the SHA-1 form `kong config db_export` writes), which this gateway cannot check: give the plaintext password or a bcrypt hash, or drop '_transform: false'",
      );
    } else if (looksLikeBcryptHash(b.password) && !isBcryptHash(b.password)) {
      this.report([...path, 'password'], 'invalid bcrypt hash (expected $2a$, $2b$ or $2y$, a cost from 04 to 31, then 53 characters)');
    } else if (!isBcryptHash(b.password)) {
      this.report([...path, 'password'], 'plaintext password: anyone who can read this file can use it; store a bcrypt hash instead (gateway hash-password)', 'warning');
    }
    const cred: BasicAuthCredentialEntity = { id: b.id ?? stableId('basicauth_credentials', b.username), consumer, username: b.username, password: b.password };
    if (b.tags !== undefined) cred.tags = b.tags;
    this.entities.basicauth_credentials.push(this.place(cred, path, b));
  }

  private jwtSecret(k: Raw, path: PathSegment[], consumer: string, ordinal: number, topLevel = false): void {
    if (!topLevel && k.consumer !== undefined) this.report([...path, 'consumer'], 'value must be null (a nested credential belongs to its consumer)');
    const id = k.id ?? stableId('jwt_secrets', `${consumer}:${topLevel ? 'top' : 'nested'}:${ordinal}`);
    // Kong generates a random key when none is given; here it is the credential's id, the same on every load.
    const cred: JwtSecretEntity = { id, consumer, key: k.key ?? id, algorithm: k.algorithm };
    if (isSymmetric(k.algorithm)) {
      if (k.secret === undefined) this.report([...path, 'secret'], `required field missing for ${k.algorithm} (Kong would generate a random secret, which no client could know)`);
      else if (this.secretUsable(k.secret, [...path, 'secret'])) cred.secret = k.secret;
    } else if (k.rsa_public_key === undefined) {
      this.report([...path, 'rsa_public_key'], 'required field missing');
    } else {
      const parsed = parsePublicKey(k.algorithm, k.rsa_public_key);
      if (parsed.error !== undefined) this.report([...path, 'rsa_public_key'], parsed.error);
      else if (parsed.privateKeyGiven) this.report([...path, 'rsa_public_key'], 'a private key: only its public key is used; anyone who can read this file can sign tokens with it', 'warning');
      cred.rsa_public_key = k.rsa_public_key;
    }
    if (k.tags !== undefined) cred.tags = k.tags;
    this.entities.jwt_secrets.push(this.place(cred, path, k));
  }

  private hmacAuth(h: Raw, path: PathSegment[], consumer: string, topLevel = false): void {
    if (!topLevel && h.consumer !== undefined) this.report([...path, 'consumer'], 'value must be null (a nested credential belongs to its consumer)');
    if (h.secret === undefined) this.report([...path, 'secret'], 'required field missing (Kong would generate a random secret, which no client could know)');
    else this.secretUsable(h.secret, [...path, 'secret']);
    const cred: HmacAuthCredentialEntity = { id: h.id ?? stableId('hmacauth_credentials', h.username), consumer, username: h.username, secret: h.secret ?? '' };
    if (h.tags !== undefined) cred.tags = h.tags;
    this.entities.hmacauth_credentials.push(this.place(cred, path, h));
  }

  /** A credential secret must be the secret itself: not the Admin API's masked form, nor a vault reference. */
  private secretUsable(secret: string, path: PathSegment[]): boolean {
    if (isMasked(secret)) {
      this.report(path, 'a masked secret (as the Admin API shows secrets unless --admin-show-secrets): give the real secret');
      return false;
    }
    if (/^\{vault:\/\//.test(secret)) {
      this.report(path, 'vault references are not supported: give the secret itself');
      return false;
    }
    return true;
  }

  private acl(a: Raw, path: PathSegment[], consumer: string, topLevel = false): void {
    if (!topLevel && a.consumer !== undefined) this.report([...path, 'consumer'], 'value must be null (a nested acl belongs to its consumer)');
    const acl: AclEntity = { id: a.id ?? stableId('acls', `${consumer}:${a.group}`), consumer, group: a.group };
    if (a.tags !== undefined) acl.tags = a.tags;
    this.entities.acls.push(this.place(acl, path, a));
  }
}
