// What a Kong 3.x declarative file may hold beyond what this gateway implements, so that each is refused by its
// real name ("not supported", "Kong Enterprise", "runs Lua") rather than as an unknown field. Data only: a plugin
// added to PLUGINS (src/plugins/index.ts) or an entity added to schemas/kong.schema.json needs no change here.
import { KONG_PLUGINS, PLUGINS } from '../plugins';

/**
 * Kong's declarative entities (kong/constants.lua CORE_ENTITIES and the bundled plugins' daos.lua), each with the
 * entities that may be nested under it: kong/db/schema/others/declarative_config.lua nests every entity under
 * each entity its foreign keys reference (`routes` under `services`, `targets` under `upstreams`, …).
 */
export const KONG_ENTITIES: Readonly<Record<string, readonly string[]>> = {
  workspaces: [],
  consumers: ['plugins', 'keyauth_credentials', 'basicauth_credentials', 'acls', 'jwt_secrets', 'hmacauth_credentials', 'oauth2_credentials'],
  certificates: ['services', 'upstreams', 'snis'],
  services: ['routes', 'plugins', 'filter_chains', 'oauth2_tokens', 'oauth2_authorization_codes'],
  routes: ['plugins', 'filter_chains'],
  snis: [],
  upstreams: ['targets'],
  targets: [],
  plugins: ['oauth2_authorization_codes'],
  ca_certificates: [],
  vaults: [],
  key_sets: ['keys'],
  keys: [],
  filter_chains: [],
  parameters: [],
  keyauth_credentials: [],
  basicauth_credentials: [],
  acls: [],
  jwt_secrets: [],
  hmacauth_credentials: [],
  oauth2_credentials: ['oauth2_tokens', 'oauth2_authorization_codes'],
  oauth2_tokens: [],
  oauth2_authorization_codes: [],
  acme_storage: [],
  sessions: ['session_metadatas'],
  session_metadatas: [],
};

/** Kong (open-source) entity fields this gateway does not implement, by entity (kong/db/schema/entities/). */
const KONG_FIELDS: Readonly<Record<string, readonly string[]>> = {
  routes: ['sources', 'destinations', 'expression', 'priority'],
};

/** Kong Enterprise's entities, as decK writes them at the top of a file or nested. */
const ENTERPRISE_ENTITIES = new Set(['consumer_groups', 'partials', 'licenses', 'rbac_roles', 'rbac_users', 'degraphql_routes', 'graphql_ratelimiting_cost_decorations', 'custom_entities']);

/** Kong Enterprise's fields on open-source entities. */
const ENTERPRISE_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  plugins: { ordering: 'dynamic plugin ordering', consumer_group: 'plugins scoped to a consumer group', partials: 'plugin partials' },
  consumers: { groups: 'consumer groups', consumer_groups: 'consumer groups' },
};

/** Redis options that only Kong Enterprise's Redis configuration has (cluster, sentinel, connection pool). */
const ENTERPRISE_REDIS_FIELDS = new Set([
  'cluster_nodes', 'cluster_addresses', 'cluster_max_redirections', 'sentinel_nodes', 'sentinel_addresses', 'sentinel_master',
  'sentinel_role', 'sentinel_username', 'sentinel_password', 'connect_timeout', 'read_timeout', 'send_timeout',
  'keepalive_pool_size', 'keepalive_backlog', 'connection_is_proxied', 'cloud_authentication',
]);

/** Kong Enterprise plugins people carry over in their files (docs.konghq.com/hub, "Enterprise" tier). */
const ENTERPRISE_PLUGINS = new Set([
  'openid-connect', 'rate-limiting-advanced', 'request-validator', 'oas-validation', 'opa', 'oauth2-introspection', 'jwt-signer',
  'key-auth-enc', 'mtls-auth', 'ldap-auth-advanced', 'vault-auth', 'saml', 'canary', 'forward-proxy', 'proxy-cache-advanced',
  'graphql-proxy-cache-advanced', 'graphql-rate-limiting-advanced', 'degraphql', 'request-transformer-advanced',
  'response-transformer-advanced', 'route-transformer-advanced', 'route-by-header', 'exit-transformer', 'kafka-log',
  'kafka-upstream', 'confluent', 'jq', 'mocking', 'websocket-size-limit', 'websocket-validator', 'tls-handshake-modifier',
  'tls-metadata-headers', 'application-registration', 'upstream-timeout', 'xml-threat-protection', 'json-threat-protection',
  'injection-protection', 'header-cert-auth', 'upstream-oauth', 'request-callout', 'service-protection', 'statsd-advanced',
  'datadog-tracing', 'app-dynamics', 'konnect-application-auth', 'ai-proxy-advanced', 'ai-rate-limiting-advanced',
  'ai-semantic-cache', 'ai-semantic-prompt-guard', 'ai-azure-content-safety', 'ai-aws-guardrails', 'ai-gcp-model-armor',
  'ai-rag-injector', 'ai-sanitizer', 'ai-prompt-compressor',
]);

/** Kong's plugins that run Lua code given in the file. */
const LUA_PLUGINS = new Set(['pre-function', 'post-function']);

/** Kong's protocols by what they would ask of this gateway (kong/constants.lua protocols_with_subsystem). */
export const SERVED_PROTOCOLS: ReadonlySet<string> = new Set(['http', 'https']);
const NOT_YET_PROTOCOLS = new Set(['grpc', 'grpcs']);
const STREAM_PROTOCOLS = new Set(['tcp', 'tls', 'tls_passthrough', 'udp']);
const ENTERPRISE_PROTOCOLS = new Set(['ws', 'wss']);
/** Every protocol a Kong file may name (the schema refuses others). */
export const KONG_PROTOCOLS: ReadonlySet<string> = new Set([...SERVED_PROTOCOLS, ...NOT_YET_PROTOCOLS, ...STREAM_PROTOCOLS, ...ENTERPRISE_PROTOCOLS]);

const notYet = (what: string) => `'${what}' is not supported by this gateway yet`;
const enterprise = (what: string) => `${what} is a Kong Enterprise feature, not supported by this gateway`;

/**
 * Why `field` of a `kind` entity (its list's name, '' for the top of the file) is refused though Kong knows it,
 * or undefined for a field Kong does not know either.
 */
export function unsupportedField(kind: string, field: string): string | undefined {
  if (kind === '' ? field in KONG_ENTITIES : (KONG_ENTITIES[kind] ?? []).includes(field)) return notYet(field);
  if (KONG_FIELDS[kind]?.includes(field)) return notYet(field);
  if (ENTERPRISE_ENTITIES.has(field) && (kind === '' || kind === 'consumers')) return enterprise(`'${field}'`);
  const feature = ENTERPRISE_FIELDS[kind]?.[field];
  if (feature !== undefined) return enterprise(`'${field}' (${feature})`);
  return undefined;
}

/** Why a field of a plugin's `redis` settings is refused, when it is Kong Enterprise's. */
export function unsupportedRedisField(field: string): string | undefined {
  return ENTERPRISE_REDIS_FIELDS.has(field) ? enterprise(`Redis option '${field}'`) : undefined;
}

/** Whether `key` names a list of Kong entities at this place (the top when `kind` is ''), implemented or not. */
export function isKongEntityList(kind: string, key: string): boolean {
  return kind === '' ? key in KONG_ENTITIES || ENTERPRISE_ENTITIES.has(key) : (KONG_ENTITIES[kind] ?? []).includes(key);
}

/** Why a plugin name is refused: never undefined for a name PLUGINS lacks. `suggestion` is a did-you-mean. */
export function unsupportedPlugin(name: string, suggestion: string): string {
  if (LUA_PLUGINS.has(name)) return `plugin '${name}' runs Lua code from the file: this gateway does not run Lua and will not support it`;
  if (KONG_PLUGINS.has(name)) return `plugin '${name}' is not supported by this gateway yet (supported: ${[...PLUGINS.keys()].sort().join(', ')})`;
  if (ENTERPRISE_PLUGINS.has(name)) return `plugin '${name}' is a Kong Enterprise plugin, not supported by this gateway`;
  if (suggestion !== '') return `plugin '${name}' does not exist${suggestion}`;
  return `plugin '${name}' is not one of Kong's bundled plugins (a custom plugin?): custom plugins are not supported`;
}

/** Why a route's or service's protocol is refused, or undefined when this gateway serves it. */
export function unsupportedProtocol(protocol: string, entity: 'route' | 'service'): string | undefined {
  if (SERVED_PROTOCOLS.has(protocol)) return undefined;
  if (NOT_YET_PROTOCOLS.has(protocol)) return notYet(protocol);
  if (STREAM_PROTOCOLS.has(protocol)) {
    return `'${protocol}' makes this a stream ${entity} (tcp, tls, tls_passthrough, udp): not supported, this gateway proxies HTTP`;
  }
  if (ENTERPRISE_PROTOCOLS.has(protocol)) return enterprise(`protocol '${protocol}' (WebSocket ${entity}s)`);
  return `protocol '${protocol}' is not supported (expected one of: http, https)`;
}
