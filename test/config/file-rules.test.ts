// Kong's rules for reading a declarative file (kong/db/schema/init.lua, kong/db/declarative/,
// kong/db/schema/others/declarative_config.lua), decK's file conventions, and refusals that name their cause.
import t from 'tap';
import { PLUGINS } from '../../src/plugins';
import { checkConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';
import { errorsOf, yaml } from '../helpers/config';

const head = '_format_version: "3.0"';
const warningsOf = (text: string) => checkConfigText(text, 'kong.yml').warnings.map(formatIssue);
const entitiesOf = (text: string) => checkConfigText(text, 'kong.yml').entities;

t.test('null for a field that is not required means not set, in entities and plugin configs (kong/db/schema/init.lua)', async (t) => {
  const text = yaml(
    head,
    'services:',
    '  - name: a',
    '    host: h',
    '    path: null',
    '    retries: null',
    '    tags: null',
    '    routes: [{name: r, paths: [/], hosts: null, methods: null, service: null}]',
    '    plugins:',
    '      - name: rate-limiting',
    '        config: {minute: null, second: 5, redis_host: null, header_name: null, redis: {host: null}}',
    'consumers: [{username: u, custom_id: null}]',
    'plugins: [{name: key-auth, config: {anonymous: null}, instance_name: null}]',
    'routes: null',
  );
  t.same(errorsOf(text), []);
  const entities = entitiesOf(text);
  t.equal(entities.services[0].path, undefined, 'no path');
  t.equal(entities.services[0].retries, 5, "Kong's default");
  t.equal(entities.routes[0].hosts, undefined);
  t.equal(entities.consumers[0].custom_id, undefined);
  t.equal(entities.plugins[0].config.second, 5);
  t.notOk('minute' in entities.plugins[0].config);
  t.notOk('anonymous' in entities.plugins[1].config);
});

t.test('null for a required field is a missing field, as Kong reports it', async (t) => {
  t.same(errorsOf(yaml(head, 'services:', '  - name: a', '    host: null')), ['kong.yml:4:11: services[0].host: required field missing']);
  t.same(errorsOf(yaml(head, 'routes:', '  - {name: r, paths: [/], strip_path: null, protocols: null}')), [
    'kong.yml:3:39: routes[0].strip_path: required field missing',
    'kong.yml:3:56: routes[0].protocols: required field missing',
  ]);
  t.same(errorsOf(yaml(head, 'plugins: [{name: null}]')), ['kong.yml:2:18: plugins[0].name: required field missing']);
  t.same(errorsOf(yaml(head, 'plugins: [{name: key-auth, config: {hide_credentials: null}}]')), [
    'kong.yml:2:55: plugins[0].config.hide_credentials: required field missing',
  ]);
  t.same(errorsOf(yaml(head, 'consumers: [{username: u, keyauth_credentials: [{key: null}]}]')), [
    'kong.yml:2:55: consumers[0].keyauth_credentials[0].key: required field missing',
  ]);
});

t.test('an empty entity list declares nothing, implemented or not', async (t) => {
  t.same(errorsOf(yaml(head, 'upstreams: []', 'certificates: []', 'vaults: []', 'consumer_groups: []', 'services: []', 'consumers:', '  - username: u', '    jwt_secrets: []', '    hmacauth_credentials: []')), []);
  t.same(errorsOf(yaml(head, 'services: [{name: s, host: h, routes: [{name: r, paths: [/], filter_chains: []}], plugins: []}]')), []);
});

t.test('_comment and _ignore are allowed on every entity (declarative_config.lua add_extra_attributes)', async (t) => {
  const text = yaml(
    head,
    '_comment: the file',
    'services:',
    '  - {name: s, host: h, _comment: a service, _ignore: [x]}',
    'routes:',
    '  - {name: r, service: s, paths: [/], _comment: r, _ignore: [{any: thing}]}',
    'consumers:',
    '  - username: u',
    '    _comment: c',
    '    keyauth_credentials: [{key: k-0123456789abcdef0123, _comment: k}]',
    '    basicauth_credentials: [{username: b, password: $2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234, _comment: b}]',
    '    acls: [{group: g, _ignore: []}]',
    'plugins: [{name: request-termination, _comment: p}]',
  );
  t.same(errorsOf(text), []);
  t.same(errorsOf(yaml(head, 'services: [{name: s, host: h, _comment: 7}]')), ['kong.yml:2:41: services[0]._comment: expected a string']);
});

t.test("a service's url overrides protocol, host, port and path beside it (services.lua shorthand_fields, process_auto_fields)", async (t) => {
  const text = yaml(head, 'services:', '  - name: a', '    url: http://up:8080/v1', '    protocol: ws', '    host: other', '    port: 8080', '    path: /v1', '    routes: [{paths: [/]}]');
  t.same(warningsOf(text), [
    "kong.yml:4:10: warning: services[0].url: 'url' gives the service's protocol, host, port and path, so protocol 'ws', host 'other' beside it are ignored (as in Kong)",
  ]);
  t.match(entitiesOf(text).services[0], { protocol: 'http', host: 'up', port: 8080, path: '/v1' });
  // a url without a path clears the path beside it
  const noPath = yaml(head, 'services:', '  - {name: a, url: "https://up", path: /x, routes: [{paths: [/]}]}');
  t.match(entitiesOf(noPath).services[0], { protocol: 'https', host: 'up', port: 443, path: undefined });
  t.same(warningsOf(yaml(head, 'services:', '  - {name: a, url: "http://up", port: 80, protocol: http, routes: [{paths: [/]}]}')), [], 'the same values: no warning');
});

t.test('entities Kong nests under their owner are "not supported" where they stand (declarative_config.lua nest_foreign_relationships)', async (t) => {
  t.same(errorsOf(yaml(head, 'consumers:', '  - username: u', '    oauth2_credentials: [{name: o}]')), [
    "kong.yml:4:5: consumers[0].oauth2_credentials: 'oauth2_credentials' is not supported by this gateway yet",
  ]);
  t.same(errorsOf(yaml(head, 'upstreams: [{name: u, targets: [{target: "a:80"}]}]', 'certificates: [{cert: c, key: k, upstreams: [{name: x}]}]')), [
    "kong.yml:3:34: certificates[0].upstreams: 'upstreams' is not supported by this gateway yet",
  ]);
  t.same(errorsOf(yaml(head, 'services: [{name: s, host: h, tls_verify: true, routes: [{paths: [/], snis: [a.com], sources: [{ip: 10.0.0.1}]}]}]')), [
    "kong.yml:2:43: services[0].tls_verify: value must be null: only an https service talks TLS to its upstream (protocol is 'http')",
    "kong.yml:2:86: services[0].routes[0].sources: 'sources' is not supported by this gateway yet",
  ]);
  // where Kong does not nest them either, they are unknown fields
  t.same(errorsOf(yaml(head, 'routes: [{paths: [/], targets: [{target: "a:80"}]}]')), ['kong.yml:2:23: routes[0].targets: unknown field']);
  t.same(errorsOf(yaml(head, 'services: [{name: s, host: h, retires: 3}]')), ["kong.yml:2:31: services[0].retires: unknown field (did you mean 'retries'?)"]);
});

t.test('plugins not implemented are named for what they are', async (t) => {
  t.same(errorsOf(yaml(head, 'plugins:', '  - name: pre-function', '  - name: openid-connect', '  - name: rate-limiting-advanced', '  - name: my-company-auth', '  - name: key-auht')), [
    "kong.yml:3:11: plugins[0].name: plugin 'pre-function' runs Lua code from the file: this gateway does not run Lua and will not support it",
    "kong.yml:4:11: plugins[1].name: plugin 'openid-connect' is a Kong Enterprise plugin, not supported by this gateway",
    "kong.yml:5:11: plugins[2].name: plugin 'rate-limiting-advanced' is a Kong Enterprise plugin, not supported by this gateway",
    "kong.yml:6:11: plugins[3].name: plugin 'my-company-auth' is not one of Kong's bundled plugins (a custom plugin?): custom plugins are not supported",
    "kong.yml:7:11: plugins[4].name: plugin 'key-auht' does not exist (did you mean 'key-auth'?)",
  ]);
  t.match(errorsOf(yaml(head, 'plugins: [{name: post-function}]'))[0], /runs Lua code/);
  t.match(errorsOf(yaml(head, 'plugins: [{name: standard-webhooks}]'))[0], /plugin 'standard-webhooks' is not supported by this gateway yet \(supported: .*key-auth/);
});

t.test('Kong Enterprise fields are named as such', async (t) => {
  t.same(errorsOf(yaml(head, 'plugins: [{name: request-termination, ordering: {before: {access: [key-auth]}}, consumer_group: g}]', 'consumer_groups: [{name: g}]')), [
    "kong.yml:2:39: plugins[0].ordering: 'ordering' (dynamic plugin ordering) is a Kong Enterprise feature, not supported by this gateway",
    "kong.yml:2:81: plugins[0].consumer_group: 'consumer_group' (plugins scoped to a consumer group) is a Kong Enterprise feature, not supported by this gateway",
    "kong.yml:3:1: consumer_groups: 'consumer_groups' is a Kong Enterprise feature, not supported by this gateway",
  ]);
  t.same(errorsOf(yaml(head, 'plugins: [{name: rate-limiting, config: {minute: 1, policy: redis, redis: {host: r, sentinel_master: m, cluster_nodes: [{ip: a}]}}}]')), [
    "kong.yml:2:85: plugins[0].config.redis.sentinel_master: Redis option 'sentinel_master' is a Kong Enterprise feature, not supported by this gateway",
    "kong.yml:2:105: plugins[0].config.redis.cluster_nodes: Redis option 'cluster_nodes' is a Kong Enterprise feature, not supported by this gateway",
  ]);
});

t.test('stream, gRPC and WebSocket routes and services are refused by name (kong/constants.lua protocols)', async (t) => {
  t.same(errorsOf(yaml(head, 'services: [{name: s, protocol: tcp, host: h, port: 9000}]', 'routes: [{name: r, service: s, protocols: [tcp], destinations: [{port: 9001}]}]')), [
    "kong.yml:2:32: services[0].protocol: 'tcp' makes this a stream service (tcp, tls, tls_passthrough, udp): not supported, this gateway proxies HTTP",
    "kong.yml:3:44: routes[0].protocols[0]: 'tcp' makes this a stream route (tcp, tls, tls_passthrough, udp): not supported, this gateway proxies HTTP",
    "kong.yml:3:50: routes[0].destinations: 'destinations' is not supported by this gateway yet",
  ]);
  t.same(errorsOf(yaml(head, 'routes: [{paths: [/], protocols: [grpc, grpcs]}, {paths: [/w], protocols: [wss]}]')), [
    "kong.yml:2:35: routes[0].protocols[0]: 'grpc' is not supported by this gateway yet",
    "kong.yml:2:41: routes[0].protocols[1]: 'grpcs' is not supported by this gateway yet",
    "kong.yml:2:76: routes[1].protocols[0]: protocol 'wss' (WebSocket routes) is a Kong Enterprise feature, not supported by this gateway",
  ]);
  t.same(errorsOf(yaml(head, 'services: [{name: s, url: "udp://h:53"}]')), [
    "kong.yml:2:27: services[0].url: 'udp' makes this a stream service (tcp, tls, tls_passthrough, udp): not supported, this gateway proxies HTTP",
  ]);
  t.same(errorsOf(yaml(head, 'routes: [{paths: [/], protocols: [gopher]}]')), [
    'kong.yml:2:35: routes[0].protocols[0]: expected one of: grpc, grpcs, http, https, tcp, tls, tls_passthrough, udp, ws, wss',
  ]);
});

t.test("ws and wss in a plugin's protocols (Kong Enterprise dumps) are dropped with a warning", async (t) => {
  const text = yaml(head, 'plugins: [{name: key-auth, protocols: [grpc, grpcs, http, https, ws, wss]}]');
  t.same(warningsOf(text), [
    "kong.yml:2:39: warning: plugins[0].protocols: 'ws', 'wss' ignored: this gateway has no such routes (stream routes are not supported, WebSocket routes are Kong Enterprise's)",
  ]);
  t.same(entitiesOf(text).plugins[0].protocols, ['grpc', 'grpcs', 'http', 'https']);
});

t.test('one run reports every problem: structural and semantic, around entities with errors', async (t) => {
  const text = yaml(
    head,
    'services:',
    '  - name: s',
    '    host: h',
    '    colour: blue',
    '    routes: [{name: r, paths: [bad]}]',
    'routes:',
    '  - {name: r2, service: s, paths: [/r2], plugins: [{name: datadog}]}',
    '  - {name: r3, service: ghost, paths: [/r3]}',
    'consumers: [{username: u, plugins: [{name: key-auth}]}]',
    'plugins: [{name: acl, route: r, config: {allow: [a], colour: 1}}, {name: request-termination, route: r2, consumer: nobody}]',
  );
  t.same(errorsOf(text), [
    'kong.yml:5:5: services[0].colour: unknown field',
    'kong.yml:6:32: services[0].routes[0].paths[0]: must start with "/" or "~"',
    `kong.yml:8:59: routes[0].plugins[0].name: plugin 'datadog' is not supported by this gateway yet (supported: ${[...PLUGINS.keys()].sort().join(', ')})`,
    "kong.yml:9:25: routes[1].service: invalid reference 'service: ghost' (no such entry in 'services')",
    "kong.yml:10:44: consumers[0].plugins[0].name: value must be null ('key-auth' identifies consumers, so it cannot be scoped to one)",
    'kong.yml:11:54: plugins[0].config.colour: unknown field',
    "kong.yml:11:116: plugins[1].consumer: invalid reference 'consumer: nobody' (no such entry in 'consumers')",
  ]);
  // a route whose service has an error of its own still finds it, by name
  t.same(errorsOf(yaml(head, 'services: [{name: s, host: h, port: -1}]', 'routes: [{service: s, paths: [/]}]')), ['kong.yml:2:37: services[0].port: value should be between 0 and 65535']);
});

t.test("decK's _info: select_tags tag every entity, defaults fill services and routes", async (t) => {
  const text = yaml(
    head,
    '_info:',
    '  select_tags: [team-a]',
    '  defaults:',
    '    service: {port: 8080, read_timeout: 5000, protocol: null}',
    '    route: {strip_path: false}',
    'services:',
    '  - name: s',
    '    host: h',
    '    tags: [mine]',
    '    routes: [{name: r, paths: [/], plugins: [{name: key-auth}]}]',
    '  - {name: t, host: h, port: 81, routes: [{name: r2, paths: [/t], strip_path: true}]}',
    'consumers: [{username: u}]',
  );
  const entities = entitiesOf(text);
  t.match(entities.services, [{ port: 8080, read_timeout: 5000, tags: ['mine', 'team-a'] }, { port: 81, tags: ['team-a'] }]);
  t.match(entities.routes, [{ strip_path: false, tags: ['team-a'] }, { strip_path: true }]);
  t.same(entities.plugins[0].tags, ['team-a']);
  t.same(entities.consumers[0].tags, ['team-a']);
  t.same(errorsOf(yaml(head, '_info:', '  defaults:', '    service: {port: eighty}', '    consumer: {}')), [
    'kong.yml:4:21: _info.defaults.service.port: expected an integer',
    'kong.yml:5:5: _info.defaults.consumer: unknown field',
  ]);
});

t.test("decK's _konnect and lookup tags are ignored with a warning", async (t) => {
  t.same(warningsOf(yaml(head, '_konnect: {control_plane_name: default}', '_info: {default_lookup_tags: {consumers: [shared]}}')), [
    "kong.yml:2:11: warning: _konnect: '_konnect' is decK's Konnect metadata (which control plane to sync to): ignored here",
    "kong.yml:3:30: warning: _info.default_lookup_tags: decK's lookup tags find entities outside this file, which this gateway does not have: every reference must resolve within the file",
  ]);
});

t.test('_transform: false: basic-auth passwords must be bcrypt hashes (kong/db/declarative/import.lua, basic-auth/crypto.lua)', async (t) => {
  const cred = (password: string) => yaml(head, '_transform: false', 'consumers:', '  - username: u', `    basicauth_credentials: [{username: b, password: "${password}"}]`);
  t.match(errorsOf(cred('5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8'))[0], /password: with '_transform: false' Kong takes this password as already hashed/);
  t.notMatch(errorsOf(cred('5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8'))[0], /5baa61e4/, 'the password is not quoted');
  t.same(errorsOf(cred('$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234')), []);
});

t.test('1.1 and 2.1 paths migrate as Kong 3.x migrates them (migrate_path_280_300.lua), and a path that cannot match is a warning', async (t) => {
  const text = yaml('_format_version: "1.1"', 'routes:', '  - name: r', '    paths: [~/ip$, /a/../b, /status/\\d+, ~/plain]');
  t.same(entitiesOf(text).routes[0].paths, ['~~/ip$', '/b', '~/status/\\d+', '~/plain']);
  t.same(warningsOf(text), [
    `kong.yml:4:13: warning: routes[0].paths[0]: in a format 1.1 file every path with regex characters is a regex, so Kong 3.x reads this one as '~~/ip$', a regex that starts with '~' and never matches: drop the leading '~', or write the file as _format_version "3.0"`,
  ]);
  t.same(warningsOf(yaml(head, 'routes: [{name: r, paths: [~/ip$]}]')), [], 'in a 3.0 file the same path is a regex');
});

t.test('a key written twice: the same value is a warning, another value an error', async (t) => {
  t.same(warningsOf(yaml(head, head, 'services: [{name: s, host: h, routes: [{paths: [/]}]}]')), [
    "kong.yml:2:1: warning: '_format_version' is written twice with the same value: the repeat is ignored",
  ]);
  t.same(errorsOf(yaml(head, '_format_version: "1.1"')), ["kong.yml:2:1: failed parsing declarative configuration: Map keys must be unique ('_format_version' repeats)"]);
});

t.test('a value that looks like an environment variable says so', async (t) => {
  t.same(errorsOf(yaml(head, 'services: [{name: s, host: $UPSTREAM_HOST}]', 'routes: [{hosts: ["api.${DOMAIN}"]}]')), [
    "kong.yml:2:28: services[0].host: invalid value '$UPSTREAM_HOST': must be a hostname or an IP address ('$UPSTREAM_HOST' looks like an environment variable: the file is read as written, so substitute it before loading)",
    "kong.yml:3:19: routes[0].hosts[0]: invalid hostname: api.${DOMAIN} ('${DOMAIN}' looks like an environment variable: the file is read as written, so substitute it before loading)",
  ]);
  t.same(errorsOf(yaml(head, 'services: [{name: s, url: "http://${HOST}:80"}]')), [
    "kong.yml:2:27: services[0].url: invalid hostname in url 'http://${HOST}:80' ('${HOST}' looks like an environment variable: the file is read as written, so substitute it before loading)",
  ]);
});
