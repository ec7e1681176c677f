// The warnings of `gateway validate` (src/config/lint): one test per rule, each with the exact place reported.
import t from 'tap';
import { yaml } from '../helpers/config';
import { checkConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';
import { estimatedBits, keyWeakness } from '../../src/config/lint/key-strength';

const head = '_format_version: "3.0"';
const warningsOf = (...lines: string[]) => checkConfigText(yaml(head, ...lines), 'kong.yml').warnings.map(formatIssue);
const open = (route: string, path: string, plugin: string) =>
  `kong.yml:${path}: warning: ${route.split(':')[0]}: route '${route.split(':')[1]}' is reachable without credentials: 'key-auth' (${plugin}) lets callers through as consumer 'guest', and nothing stops that consumer; if that is not meant, add a request-termination on it or an acl that denies it`;

t.test('OR-mode auth where nothing stops the anonymous consumer: a warning naming the route', async (t) => {
  t.same(
    warningsOf(
      'consumers: [{username: guest}]',
      'routes:',
      '  - name: open',
      '    paths: [/open]',
      '    plugins: [{name: key-auth, config: {anonymous: guest}}]',
    ),
    [open('routes[0]:open', '4:5', 'routes[0].plugins[0]')],
  );
  t.same(
    warningsOf(
      'consumers: [{username: guest}]',
      'services:',
      '  - name: s',
      '    url: http://upstream.test',
      '    routes: [{name: a, paths: [/a]}, {name: b, paths: [/b]}]',
      'plugins:',
      '  - name: key-auth',
      '    config: {anonymous: guest}',
    ),
    [open('services[0].routes[0]:a', '6:14', 'plugins[0]'), open('services[0].routes[1]:b', '6:38', 'plugins[0]')],
    'a global auth plugin: once per route it opens',
  );
});

t.test('what stops the anonymous consumer, and what does not', async (t) => {
  const route = (...plugins: string[]) =>
    warningsOf(
      'consumers:',
      '  - username: guest',
      '    acls: [{group: guests}]',
      '    plugins: [{name: rate-limiting, config: {minute: 5}}]',
      '  - username: other',
      '    plugins: [{name: request-termination, config: {status_code: 401}}]',
      'routes:',
      '  - name: r',
      '    paths: [/r]',
      '    plugins:',
      '      - {name: key-auth, config: {anonymous: guest}}',
      ...plugins.map((p) => `      - ${p}`),
    ).filter((w) => w.includes('reachable without credentials'));
  t.equal(route().length, 1, "rate limiting on the anonymous consumer does not stop it; a termination on another consumer does not either");
  t.same(route('{name: request-termination, config: {status_code: 401}}'), [], 'a request-termination on the route');
  t.equal(route('{name: request-termination, config: {status_code: 401, trigger: x-stop}}').length, 1, 'a termination with a trigger does not stop everyone');
  t.same(route('{name: acl, config: {deny: [guests]}}'), [], 'an acl denying its group');
  t.same(route('{name: acl, config: {allow: [staff]}}'), [], 'an acl allowing other groups only');
  t.same(route('{name: acl, config: {allow: [staff], anonymous_authz_exception: true}}'), [], 'anonymous_authz_exception either way');
  t.equal(route('{name: acl, config: {allow: [guests, staff]}}').length, 1, 'an acl that lets its group in');
  t.equal(route('{name: acl, config: {deny: [banned]}}').length, 1, 'a deny list without its group');

  const consumerScoped = warningsOf(
    'consumers:',
    '  - username: guest',
    '    plugins: [{name: request-termination, config: {status_code: 401}}]',
    'routes: [{name: r, paths: [/r]}]',
    'plugins: [{name: key-auth, config: {anonymous: guest}}, {name: basic-auth, config: {anonymous: guest}}]',
  );
  t.same(consumerScoped, [], 'a request-termination on the anonymous consumer itself (the multiple-auth recipe)');
  t.same(warningsOf('routes: [{name: r, paths: [/r], plugins: [{name: key-auth}]}]'), [], 'AND mode needs a credential');
});

t.test('the consumer the last auth plugin falls back to is the one that must be stopped', async (t) => {
  const w = warningsOf(
    'consumers:',
    '  - username: first',
    '    plugins: [{name: request-termination, config: {status_code: 401}}]',
    '  - username: last',
    'routes: [{name: r, paths: [/r]}]',
    'plugins: [{name: key-auth, config: {anonymous: first}}, {name: basic-auth, config: {anonymous: last}}]',
  );
  t.same(w, [
    "kong.yml:6:10: warning: routes[0]: route 'r' is reachable without credentials: 'basic-auth' (plugins[1]) lets callers through as consumer 'last', and nothing stops that consumer; if that is not meant, add a request-termination on it or an acl that denies it",
  ]);
});

t.test('short or low-entropy keys: a warning at the key that never quotes it', async (t) => {
  const w = warningsOf(
    'consumers:',
    '  - username: a',
    '    keyauth_credentials:',
    '      - key: short-key',
    '      - key: aaaaaaaaaaaaaaaaaaaaaaaa',
    '      - key: 4b9f2c7e1a0d8365f2e94c1b',
    'keyauth_credentials:',
    '  - {consumer: a, key: abcdefghijklmnopqrstuvwxyz}',
  );
  t.same(w, [
    'kong.yml:5:14: warning: consumers[0].keyauth_credentials[0].key: key is shorter than 16 characters: use a random key, e.g. the output of `openssl rand -hex 20`',
    'kong.yml:6:14: warning: consumers[0].keyauth_credentials[1].key: key is low-entropy: about 9 bits, estimated from its character classes with repeats and runs counted once, under 64: use a random key, e.g. the output of `openssl rand -hex 20`',
    'kong.yml:9:24: warning: keyauth_credentials[0].key: key is low-entropy: about 9 bits, estimated from its character classes with repeats and runs counted once, under 64: use a random key, e.g. the output of `openssl rand -hex 20`',
  ]);
  t.notMatch(w.join('\n'), /short-key|aaaa|abcdef/);
});

t.test('key entropy estimate: random keys pass, repeats and runs do not', async (t) => {
  t.equal(keyWeakness('0f3a9c27e4b15d68a0c2'), undefined, '20 random hex characters');
  t.equal(keyWeakness('d955c0cb-1a6e-4152-9440-414ebb8fee8a'), undefined, 'a UUID');
  t.equal(keyWeakness('Xq7LpZ2mV9rTb4Nw'), undefined, '16 random letters and digits');
  t.ok(estimatedBits('hunter2hunter2hunter2') < 64, 'a repeated word');
  t.ok(estimatedBits('1234567890123456') < 64, 'a run of digits');
  t.ok(estimatedBits('password1234567890') < 64, 'a word and a run');
  t.equal(estimatedBits(''), 0);
});

t.test('a route that can never match: a warning naming both routes', async (t) => {
  t.same(
    warningsOf(
      'routes:',
      '  - name: users',
      '    paths: [/users]',
      '    methods: [GET, POST]',
      '  - name: users-again',
      '    paths: [/users]',
      '    methods: [GET]',
      '    hosts: [api.test]',
    ),
    [],
    'a narrower route with more kinds of condition comes first: no warning',
  );
  t.same(
    warningsOf(
      'routes:',
      '  - name: users',
      '    paths: [/users]',
      '    methods: [GET, POST]',
      '  - name: users-copy',
      '    paths: [/users]',
      '    methods: [GET]',
    ),
    ["kong.yml:6:5: warning: routes[1]: route 'users-copy' can never match: route 'users' (routes[0]) comes first for every request it could match"],
    'same conditions, fewer methods, later in the file',
  );
  t.same(
    warningsOf(
      'routes:',
      '  - name: site',
      '    hosts: [api.test]',
      '    paths: [/]',
      '  - name: api-host',
      '    hosts: [api.test]',
      '  - name: v2',
      '    paths: [/v2]',
      '    headers: {x-version: ["2"]}',
      '    hosts: [api.test]',
      '  - name: v2-copy',
      '    paths: [/v2/items]',
      '    headers: {x-version: ["2"], x-extra: ["1"]}',
      '    hosts: [api.test]',
    ),
    ["kong.yml:6:5: warning: routes[1]: route 'api-host' can never match: route 'site' (routes[0]) comes first for every request it could match"],
    "a '/' path with the same host wins over the same host without a path; more headers come first",
  );
  t.same(
    warningsOf(
      'routes:',
      "  - {name: wild, hosts: ['*.example.com'], paths: [/a]}",
      '  - {name: exact, hosts: [x.example.com], paths: [/a]}',
      "  - {name: regex, paths: ['~/items/\\d+$']}",
      "  - {name: regex-copy, paths: ['~/items/\\d+$'], methods: [GET]}",
      "  - {name: regex-after, paths: ['~/items/\\d+$']}",
      '  - {name: two-paths, paths: [/a, /b], hosts: [x.example.com]}',
    ),
    [
      "kong.yml:7:5: warning: routes[4]: route 'regex-after' can never match: route 'regex' (routes[2]) comes first for every request it could match",
    ],
    'plain hosts come before wildcards; the same regex later in the file never matches; one open path is enough',
  );
});

t.test('a service without routes', async (t) => {
  t.same(warningsOf('services:', '  - name: used', '    url: http://a.test', '    routes: [{paths: [/]}]', '  - name: lonely', '    url: http://b.test'), [
    "kong.yml:6:5: warning: services[1]: service 'lonely' has no routes: no request can reach it",
  ]);
});

t.test('a plugin disabled everywhere', async (t) => {
  t.same(
    warningsOf(
      'routes:',
      '  - name: r',
      '    paths: [/]',
      '    plugins: [{name: rate-limiting, enabled: false, config: {minute: 1}}]',
      'plugins:',
      '  - name: rate-limiting',
      '    enabled: false',
      '    config: {minute: 5}',
      '  - name: request-termination',
      '    enabled: false',
      '  - name: request-termination',
      '    route: r',
    ),
    [
      "kong.yml:5:46: warning: routes[0].plugins[0].enabled: plugin 'rate-limiting' is disabled everywhere it is configured, so it never runs: remove it or enable it",
      "kong.yml:8:14: warning: plugins[0].enabled: plugin 'rate-limiting' is disabled everywhere it is configured, so it never runs: remove it or enable it",
    ],
    'request-termination runs on route r',
  );
});
