import type {
  AclEntity,
  BasicAuthCredentialEntity,
  CaCertificateEntity,
  CertificateEntity,
  ConsumerEntity,
  EntitySet,
  HmacAuthCredentialEntity,
  JwtSecretEntity,
  KeyAuthCredentialEntity,
  PluginEntity,
  RouteEntity,
  ServiceEntity,
  TargetEntity,
  UpstreamEntity,
  SniEntity,
} from '../config/entities';
import { maskConfig, maskSecret } from '../config/secrets';
import { storedHash } from '../plugins/basic-auth/passwords';

// Entities as Kong's Admin API shows them: every field present (null when unset), references as {"id": …};
// secrets masked unless `reveal` (see secrets.ts).

const ref = (id: string | undefined) => (id === undefined ? null : { id });
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

export const views = {
  services: (s: ServiceEntity) => ({
    id: s.id,
    name: orNull(s.name),
    protocol: s.protocol,
    host: s.host,
    port: s.port,
    path: orNull(s.path),
    retries: s.retries,
    connect_timeout: s.connect_timeout,
    write_timeout: s.write_timeout,
    read_timeout: s.read_timeout,
    enabled: s.enabled,
    tags: orNull(s.tags),
    client_certificate: ref(s.client_certificate),
    tls_verify: orNull(s.tls_verify),
    tls_verify_depth: orNull(s.tls_verify_depth),
    ca_certificates: orNull(s.ca_certificates),
  }),
  routes: (r: RouteEntity) => ({
    id: r.id,
    name: orNull(r.name),
    service: ref(r.service),
    protocols: r.protocols,
    methods: orNull(r.methods),
    hosts: orNull(r.hosts),
    paths: orNull(r.paths),
    headers: orNull(r.headers),
    strip_path: r.strip_path,
    preserve_host: r.preserve_host,
    regex_priority: r.regex_priority,
    path_handling: r.path_handling,
    https_redirect_status_code: r.https_redirect_status_code,
    request_buffering: r.request_buffering,
    response_buffering: r.response_buffering,
    tags: orNull(r.tags),
  }),
  consumers: (c: ConsumerEntity) => ({ id: c.id, username: orNull(c.username), custom_id: orNull(c.custom_id), tags: orNull(c.tags) }),
  plugins: (p: PluginEntity, reveal: boolean) => ({
    id: p.id,
    name: p.name,
    instance_name: orNull(p.instance_name),
    service: ref(p.service),
    route: ref(p.route),
    consumer: ref(p.consumer),
    config: reveal ? p.config : maskConfig(p.config),
    protocols: p.protocols,
    enabled: p.enabled,
    tags: orNull(p.tags),
  }),
  keyauth_credentials: (k: KeyAuthCredentialEntity, reveal: boolean) => ({
    id: k.id,
    consumer: ref(k.consumer),
    key: reveal ? k.key : maskSecret(k.key),
    ttl: null,
    tags: orNull(k.tags),
  }),
  basicauth_credentials: (b: BasicAuthCredentialEntity) => ({
    id: b.id,
    consumer: ref(b.consumer),
    username: b.username,
    password: storedHash(b), // the hash it is verified against, never the plaintext
    tags: orNull(b.tags),
  }),
  jwt_secrets: (j: JwtSecretEntity, reveal: boolean) => ({
    id: j.id,
    consumer: ref(j.consumer),
    key: j.key,
    secret: j.secret === undefined ? null : reveal ? j.secret : maskSecret(j.secret),
    algorithm: j.algorithm,
    rsa_public_key: orNull(j.rsa_public_key),
    tags: orNull(j.tags),
  }),
  hmacauth_credentials: (h: HmacAuthCredentialEntity, reveal: boolean) => ({
    id: h.id,
    consumer: ref(h.consumer),
    username: h.username,
    secret: reveal ? h.secret : maskSecret(h.secret),
    tags: orNull(h.tags),
  }),
  acls: (a: AclEntity) => ({ id: a.id, consumer: ref(a.consumer), group: a.group, tags: orNull(a.tags) }),
  upstreams: (u: UpstreamEntity) => ({
    id: u.id,
    name: u.name,
    algorithm: u.algorithm,
    hash_on: u.hash_on,
    hash_fallback: u.hash_fallback,
    hash_on_header: orNull(u.hash_on_header),
    hash_fallback_header: orNull(u.hash_fallback_header),
    hash_on_cookie: orNull(u.hash_on_cookie),
    hash_on_cookie_path: u.hash_on_cookie_path,
    hash_on_query_arg: orNull(u.hash_on_query_arg),
    hash_fallback_query_arg: orNull(u.hash_fallback_query_arg),
    hash_on_uri_capture: orNull(u.hash_on_uri_capture),
    hash_fallback_uri_capture: orNull(u.hash_fallback_uri_capture),
    slots: u.slots,
    healthchecks: u.healthchecks,
    host_header: orNull(u.host_header),
    client_certificate: null,
    use_srv_name: u.use_srv_name,
    tags: orNull(u.tags),
  }),
  targets: (t: TargetEntity) => ({ id: t.id, upstream: ref(t.upstream), target: t.target, weight: t.weight, tags: orNull(t.tags) }),
  certificates: (c: CertificateEntity, reveal: boolean) => ({
    id: c.id,
    cert: c.cert,
    key: reveal ? c.key : maskSecret(c.key),
    cert_alt: orNull(c.cert_alt),
    key_alt: c.key_alt === undefined ? null : reveal ? c.key_alt : maskSecret(c.key_alt),
    snis: c.snis,
    tags: orNull(c.tags),
  }),
  snis: (s: SniEntity) => ({ id: s.id, name: s.name, certificate: ref(s.certificate), tags: orNull(s.tags) }),
  ca_certificates: (c: CaCertificateEntity) => ({ id: c.id, cert: c.cert, cert_digest: c.cert_digest, tags: orNull(c.tags) }),
} satisfies { [K in keyof EntitySet]: (e: EntitySet[K][number], reveal: boolean) => object };

export type EntityName = keyof EntitySet;
export const ENTITY_NAMES = Object.keys(views) as EntityName[];

/** Any entity as its Admin API view; secrets shown only when `reveal`. */
export function viewOf(name: EntityName, entity: object, reveal: boolean): object {
  return (views[name] as (e: object, reveal: boolean) => object)(entity, reveal);
}
