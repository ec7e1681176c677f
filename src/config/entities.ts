// Entities as they stand in a validated declarative file, defaults filled and references resolved to ids.

export interface ServiceEntity {
  id: string;
  name?: string;
  protocol: 'http' | 'https';
  host: string;
  port: number;
  path?: string;
  retries: number;
  connect_timeout: number;
  read_timeout: number;
  write_timeout: number;
  enabled: boolean;
  tags?: string[];
  /** Upstream TLS (https services only): a certificate id presented to the upstream (mTLS). */
  client_certificate?: string;
  /** Verify the upstream's certificate; unset is off, as Kong's proxy_ssl_verify. */
  tls_verify?: boolean;
  /** Most CA certificates between the upstream's own and a trusted one (unset: 1, nginx's default). */
  tls_verify_depth?: number;
  /** ca_certificates ids trusted when verifying; unset: the system's store. */
  ca_certificates?: string[];
}

export interface RouteEntity {
  id: string;
  name?: string;
  service?: string; // service id
  protocols: string[];
  methods?: string[];
  hosts?: string[];
  /** TLS server names this https route matches (exact, `*.x` or `x.*`), lower-case. */
  snis?: string[];
  paths?: string[];
  headers?: Record<string, string[]>;
  strip_path: boolean;
  preserve_host: boolean;
  regex_priority: number;
  path_handling: 'v0' | 'v1';
  https_redirect_status_code: number;
  request_buffering: boolean;
  response_buffering: boolean;
  tags?: string[];
}

export interface ConsumerEntity {
  id: string;
  username?: string;
  custom_id?: string;
  tags?: string[];
}

export interface PluginEntity {
  id: string;
  name: string;
  instance_name?: string;
  service?: string; // ids
  route?: string;
  consumer?: string;
  config: Record<string, any>;
  protocols: string[];
  enabled: boolean;
  tags?: string[];
}

export interface KeyAuthCredentialEntity {
  id: string;
  consumer: string;
  key: string;
  tags?: string[];
}

export interface BasicAuthCredentialEntity {
  id: string;
  consumer: string;
  username: string;
  password: string; // always a bcrypt hash once compiled
  tags?: string[];
}

export type JwtAlgorithm =
  | 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512' | 'PS256' | 'PS384' | 'PS512' | 'EdDSA';

export interface JwtSecretEntity {
  id: string;
  consumer: string;
  /** What the token's key claim names (Kong's `iss` by default); the credential's id when the file gives none. */
  key: string;
  /** HS* only: the shared secret. */
  secret?: string;
  algorithm: JwtAlgorithm;
  /** Every other algorithm: the PEM public key. */
  rsa_public_key?: string;
  tags?: string[];
}

export interface HmacAuthCredentialEntity {
  id: string;
  consumer: string;
  username: string;
  secret: string;
  tags?: string[];
}

export interface AclEntity {
  id: string;
  consumer: string;
  group: string;
  tags?: string[];
}

export type BalancerAlgorithm = 'round-robin' | 'consistent-hashing' | 'least-connections' | 'latency';
export type HashOn = 'none' | 'consumer' | 'ip' | 'header' | 'cookie' | 'path' | 'query_arg' | 'uri_capture';

/** Kong's upstream healthchecks record (kong/db/schema/entities/upstreams.lua), every default filled. */
export interface Healthchecks {
  active: {
    type: 'tcp' | 'http' | 'https';
    timeout: number;
    concurrency: number;
    http_path: string;
    https_sni?: string;
    https_verify_certificate: boolean;
    headers?: Record<string, string[]>;
    healthy: { interval: number; http_statuses: number[]; successes: number };
    unhealthy: { interval: number; http_statuses: number[]; tcp_failures: number; timeouts: number; http_failures: number };
  };
  passive: {
    type: 'tcp' | 'http' | 'https';
    healthy: { http_statuses: number[]; successes: number };
    unhealthy: { http_statuses: number[]; tcp_failures: number; timeouts: number; http_failures: number };
  };
  threshold: number;
}

export interface UpstreamEntity {
  id: string;
  name: string;
  algorithm: BalancerAlgorithm;
  hash_on: HashOn;
  hash_fallback: HashOn;
  hash_on_header?: string;
  hash_fallback_header?: string;
  hash_on_cookie?: string;
  hash_on_cookie_path: string;
  hash_on_query_arg?: string;
  hash_fallback_query_arg?: string;
  hash_on_uri_capture?: string;
  hash_fallback_uri_capture?: string;
  slots: number;
  healthchecks: Healthchecks;
  host_header?: string;
  /** A certificate id presented to https targets when the service names none (Kong's fallback_upstream_client_cert). */
  client_certificate?: string;
  use_srv_name: boolean;
  tags?: string[];
}

export interface TargetEntity {
  id: string;
  upstream: string; // upstream id
  /** host:port, the port filled in (8000 when the file gives none, as in Kong). */
  target: string;
  weight: number;
  tags?: string[];
}

/** A server certificate with its private key (PEM), and optionally a second pair of the other key type. */
export interface CertificateEntity {
  id: string;
  /** The certificate, possibly followed by its intermediates. */
  cert: string;
  key: string;
  cert_alt?: string;
  key_alt?: string;
  /** The names of the snis that point here, as Kong's Admin API shows them. */
  snis: string[];
  tags?: string[];
}

export interface SniEntity {
  id: string;
  /** Lower-case; exact (`api.example.com`), prefix wildcard (`*.example.com`), suffix wildcard (`example.*`) or `*`. */
  name: string;
  certificate: string; // certificate id
  tags?: string[];
}

export interface CaCertificateEntity {
  id: string;
  cert: string;
  /** Hex SHA-256 of the certificate's DER, computed at load as Kong does. */
  cert_digest: string;
  tags?: string[];
}

/** Every entity of one config, flat, in file order. */
export interface EntitySet {
  services: ServiceEntity[];
  routes: RouteEntity[];
  consumers: ConsumerEntity[];
  plugins: PluginEntity[];
  keyauth_credentials: KeyAuthCredentialEntity[];
  basicauth_credentials: BasicAuthCredentialEntity[];
  jwt_secrets: JwtSecretEntity[];
  hmacauth_credentials: HmacAuthCredentialEntity[];
  acls: AclEntity[];
  upstreams: UpstreamEntity[];
  targets: TargetEntity[];
  certificates: CertificateEntity[];
  snis: SniEntity[];
  ca_certificates: CaCertificateEntity[];
}

export function emptyEntitySet(): EntitySet {
  return {
    services: [], routes: [], consumers: [], plugins: [], keyauth_credentials: [], basicauth_credentials: [], jwt_secrets: [],
    hmacauth_credentials: [], acls: [], upstreams: [], targets: [], certificates: [], snis: [], ca_certificates: [],
  };
}
