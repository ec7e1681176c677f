import t from 'tap';
import type { RouteEntity, ServiceEntity } from '../../src/config/entities';
import { Router, regexLiteralPrefix } from '../../src/proxy/router';
import { escapeUpstreamPath, joinUpstreamPath, normalizePath } from '../../src/proxy/paths';
import {
  checkRouteHeaderName,
  checkRouteHost,
  checkRouteMethod,
  checkRoutePath,
  compileRoutePathRegex,
} from '../../src/config/route-rules';

function svc(id: string, extra: Partial<ServiceEntity> = {}): ServiceEntity {
  return {
    id,
    protocol: 'http',
    host: `${id}.upstream`,
    port: 80,
    retries: 5,
    connect_timeout: 60000,
    read_timeout: 60000,
    write_timeout: 60000,
    enabled: true,
    ...extra,
  };
}

function route(id: string, extra: Partial<RouteEntity> = {}): RouteEntity {
  return {
    id,
    name: id,
    service: 's',
    protocols: ['http', 'https'],
    strip_path: true,
    preserve_host: false,
    regex_priority: 0,
    path_handling: 'v0',
    https_redirect_status_code: 426,
    request_buffering: true,
    response_buffering: true,
    ...extra,
  };
}

function servicesMap(...list: ServiceEntity[]): Map<string, ServiceEntity> {
  return new Map(list.map((s) => [s.id, s]));
}

// ---------------------------------------------------------------------------------------------------
t.test('normalizePath', async (t) => {
  const cases: [string, string | null][] = [
    // reference (spec 05-proxy/02-router_spec.lua "URI normalization")
    ['/foo/a/../bar', '/foo/bar'],
    ['/foo//bar', '/foo/bar'],
    ['/foo/./bar', '/foo/bar'],
    ['/h%65llo', '/hello'],
    ['/anything/./a/../wor%6cd/a/../b', '/anything/world/b'],
    ['/anything/world/cat%20and%20dog', '/anything/world/cat and dog'],
    ['/public/%2e%2e/private', '/private'],
    // reserved bytes stay encoded, hex upper-cased
    ['/a%2fb', '/a%2Fb'],
    ['/a%2Fb', '/a%2Fb'],
    ['/a%3a%40%21', '/a%3A%40%21'],
    ['/100%25', '/100%25'],
    ['/q%3f', '/q%3F'],
    ['/%7euser', '/~user'],
    ['/%41%42c', '/ABc'],
    // UTF-8 sequences decode to the character; a non-UTF-8 byte stays encoded
    ['/caf%C3%A9', '/café'],
    ['/caf%c3%a9', '/café'],
    ['/x%FFy', '/x%FFy'],
    ['/x%e9y', '/x%E9y'],
    // dot segments and slashes
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/..', '/'],
    ['/../../x', '/x'],
    ['/a/../../b', '/b'],
    ['/a/b/../../../c/', '/c/'],
    ['//', '/'],
    ['///a///b//', '/a/b/'],
    ['/.well-known/x', '/.well-known/x'],
    ['/a/...', '/a/...'],
    ['/a/.b/..c', '/a/.b/..c'],
    ['/./', '/'],
    ['/.//a', '/a'],
    ['/', '/'],
    ['', ''],
    ['/plain/path-with_chars~', '/plain/path-with_chars~'],
    // invalid escapes -> null (400)
    ['/a%zz', null],
    ['/a%2', null],
    ['/a%', null],
    ['/a%g0', null],
    ['/a%00', null],
  ];
  for (const [input, expected] of cases) t.equal(normalizePath(input), expected, JSON.stringify(input));

  t.test('returns the very same string when nothing changes', async (t) => {
    const s = ['/api/v1/users/', 'x'].join('');
    t.equal(normalizePath(s), s);
    const s2 = '/.well-known/x';
    t.equal(normalizePath(s2), s2);
  });
});

t.test('escapeUpstreamPath', async (t) => {
  const cases: [string, string][] = [
    ['/plain/path', '/plain/path'],
    ["/ok!#$&'()*+,/:;=?@[]-._~%41", "/ok!#$&'()*+,/:;=?@[]-._~%41"],
    ['/anything/world/cat and dog', '/anything/world/cat%20and%20dog'],
    ['/café', '/caf%C3%A9'],
    ['/a"b<c>d\\e^f`g{h|i}', '/a%22b%3Cc%3Ed%5Ce%5Ef%60g%7Bh%7Ci%7D'],
    ['/tab\there', '/tab%09here'],
    ['/emoji/😀', '/emoji/%F0%9F%98%80'],
    ['/lone\ud800', '/lone%EF%BF%BD'],
    ['/€', '/%E2%82%AC'],
  ];
  for (const [input, expected] of cases) t.equal(escapeUpstreamPath(input), expected, JSON.stringify(input));
  // round trip of the reference example
  t.equal(escapeUpstreamPath(normalizePath('/anything/./a/../wor%6cd/a/../b')!), '/anything/world/b');
  t.equal(escapeUpstreamPath(normalizePath('/anything/world/cat%20and%20dog')!), '/anything/world/cat%20and%20dog');
  t.equal(escapeUpstreamPath(normalizePath('/caf%c3%a9/%2f')!), '/caf%C3%A9/%2F');
});

// ---------------------------------------------------------------------------------------------------
// spec/fixtures/router_path_handling_tests.lua: service path, route path (null = host-only route),
// strip_path values, path_handling values, request path, expected upstream path.
type Row = [string, string | null, boolean[], ('v0' | 'v1')[], string, string];
const B = [false, true];
const V = ['v0', 'v1'] as ('v0' | 'v1')[];
const v0: ('v0' | 'v1')[] = ['v0'];
const v1: ('v0' | 'v1')[] = ['v1'];
const T = [true];
const F = [false];
const PATH_HANDLING_ROWS: Row[] = [
  ['/', '/', B, V, '/', '/'],
  ['/', '/', B, V, '/route', '/route'],
  ['/', '/', B, V, '/route/', '/route/'],
  ['/', '/', B, V, '/routereq', '/routereq'],
  ['/', '/', B, V, '/route/req', '/route/req'],
  ['/', '/route', F, V, '/route', '/route'],
  ['/', '/route', F, V, '/route/', '/route/'],
  ['/', '/route', F, V, '/routereq', '/routereq'],
  ['/', '/route', T, V, '/route', '/'],
  ['/', '/route', T, V, '/route/', '/'],
  ['/', '/route', T, V, '/routereq', '/req'],
  ['/', '/route/', F, V, '/route/', '/route/'],
  ['/', '/route/', F, V, '/route/req', '/route/req'],
  ['/', '/route/', T, V, '/route/', '/'],
  ['/', '/route/', T, V, '/route/req', '/req'],
  ['/srv', '/rou', F, v0, '/roureq', '/srv/roureq'],
  ['/srv', '/rou', F, v1, '/roureq', '/srvroureq'],
  ['/srv', '/rou', T, v0, '/roureq', '/srv/req'],
  ['/srv', '/rou', T, v1, '/roureq', '/srvreq'],
  ['/srv/', '/rou', F, V, '/rou', '/srv/rou'],
  ['/srv/', '/rou', T, v0, '/rou', '/srv'],
  ['/srv/', '/rou', T, v1, '/rou', '/srv/'],
  ['/service', '/', B, V, '/', '/service'],
  ['/service', '/', B, v0, '/route', '/service/route'],
  ['/service', '/', B, v1, '/route', '/serviceroute'],
  ['/service', '/', B, v0, '/route/', '/service/route/'],
  ['/service', '/', B, v1, '/route/', '/serviceroute/'],
  ['/service', '/', B, v0, '/routereq', '/service/routereq'],
  ['/service', '/', B, v1, '/routereq', '/serviceroutereq'],
  ['/service', '/', B, v0, '/route/req', '/service/route/req'],
  ['/service', '/', B, v1, '/route/req', '/serviceroute/req'],
  ['/service', '/route', F, v0, '/route', '/service/route'],
  ['/service', '/route', F, v1, '/route', '/serviceroute'],
  ['/service', '/route', F, v0, '/route/', '/service/route/'],
  ['/service', '/route', F, v1, '/route/', '/serviceroute/'],
  ['/service', '/route', F, v0, '/routereq', '/service/routereq'],
  ['/service', '/route', F, v1, '/routereq', '/serviceroutereq'],
  ['/service', '/route', T, V, '/route', '/service'],
  ['/service', '/route', T, V, '/route/', '/service/'],
  ['/service', '/route', T, v0, '/routereq', '/service/req'],
  ['/service', '/route', T, v1, '/routereq', '/servicereq'],
  ['/service', '/route/', F, v0, '/route/', '/service/route/'],
  ['/service', '/route/', F, v1, '/route/', '/serviceroute/'],
  ['/service', '/route/', F, v0, '/route/req', '/service/route/req'],
  ['/service', '/route/', F, v1, '/route/req', '/serviceroute/req'],
  ['/service', '/route/', T, v0, '/route/', '/service/'],
  ['/service', '/route/', T, v1, '/route/', '/service'],
  ['/service', '/route/', T, v0, '/route/req', '/service/req'],
  ['/service', '/route/', T, v1, '/route/req', '/servicereq'],
  ['/service/', '/', B, V, '/route/', '/service/route/'],
  ['/service/', '/', B, V, '/', '/service/'],
  ['/service/', '/', B, V, '/route', '/service/route'],
  ['/service/', '/', B, V, '/routereq', '/service/routereq'],
  ['/service/', '/', B, V, '/route/req', '/service/route/req'],
  ['/service/', '/route', F, V, '/route', '/service/route'],
  ['/service/', '/route', F, V, '/route/', '/service/route/'],
  ['/service/', '/route', F, V, '/routereq', '/service/routereq'],
  ['/service/', '/route', T, v0, '/route', '/service'],
  ['/service/', '/route', T, v1, '/route', '/service/'],
  ['/service/', '/route', T, V, '/route/', '/service/'],
  ['/service/', '/route', T, V, '/routereq', '/service/req'],
  ['/service/', '/route/', F, V, '/route/', '/service/route/'],
  ['/service/', '/route/', F, V, '/route/req', '/service/route/req'],
  ['/service/', '/route/', T, V, '/route/', '/service/'],
  ['/service/', '/route/', T, V, '/route/req', '/service/req'],
  // routes matching on host only
  ['/', null, B, V, '/', '/'],
  ['/', null, B, V, '/route', '/route'],
  ['/', null, B, V, '/route/', '/route/'],
  ['/service', null, B, V, '/', '/service'],
  ['/service', null, B, v0, '/route', '/service/route'],
  ['/service', null, B, v1, '/route', '/serviceroute'],
  ['/service', null, B, v0, '/route/', '/service/route/'],
  ['/service', null, B, v1, '/route/', '/serviceroute/'],
  ['/service/', null, B, V, '/', '/service/'],
  ['/service/', null, B, V, '/route', '/service/route'],
  ['/service/', null, B, V, '/route/', '/service/route/'],
];

t.test('joinUpstreamPath: router_path_handling_tests rows', async (t) => {
  let n = 0;
  for (const [servicePath, routePath, strips, handlings, request, expected] of PATH_HANDLING_ROWS) {
    for (const strip of strips) {
      for (const handling of handlings) {
        const stripped = strip && routePath !== null ? routePath : '';
        t.equal(
          joinUpstreamPath(servicePath, request, stripped, handling),
          expected,
          `${handling} service=${servicePath} route=${routePath} strip=${strip} ${request}`,
        );
        n++;
      }
    }
  }
  t.ok(n > 100, `${n} expanded rows`);
});

t.test('Router upstreamPath: router_path_handling_tests rows through match()', async (t) => {
  for (const [servicePath, routePath, strips, handlings, request, expected] of PATH_HANDLING_ROWS) {
    for (const strip of strips) {
      for (const handling of handlings) {
        const r = route('r', {
          strip_path: strip,
          path_handling: handling,
          ...(routePath === null ? { hosts: ['example.test'] } : { paths: [routePath] }),
        });
        const router = new Router([r], servicesMap(svc('s', { path: servicePath })), { honourPathHandlingV1: true });
        const m = router.match('GET', 'example.test', request, {});
        t.equal(m?.upstreamPath, expected, `${handling} service=${servicePath} route=${routePath} strip=${strip} ${request}`);
      }
    }
  }
});

t.test('joinUpstreamPath: reference table (v0) and extras', async (t) => {
  const cases: [string | undefined, string, string, 'v0' | 'v1', string][] = [
    // [servicePath, request, strippedPrefix, handling, expected] — the reference's v0 rows
    ['/', '/routereq', '/route', 'v0', '/req'],
    ['/', '/route/', '/route', 'v0', '/'],
    ['/srv', '/roureq', '/rou', 'v0', '/srv/req'],
    ['/srv', '/roureq', '', 'v0', '/srv/roureq'],
    ['/srv/', '/rou', '/rou', 'v0', '/srv'],
    ['/service', '/route', '/route', 'v0', '/service'],
    ['/service', '/route/', '/route', 'v0', '/service/'],
    ['/service', '/route/req', '/route/', 'v0', '/service/req'],
    ['/service', '/route/req', '/', 'v0', '/service/route/req'],
    ['/service', '/route/req', '', 'v0', '/service/route/req'],
    ['/service/', '/', '/', 'v0', '/service/'],
    ['/service/', '/', '', 'v0', '/service/'],
    ['/service/', '/route', '/route', 'v0', '/service'],
    ['/service', '/route', '', 'v0', '/service/route'], // host-only route
    // no service path = "/"
    [undefined, '/a/b', '', 'v0', '/a/b'],
    [undefined, '/a/b', '/a', 'v0', '/b'],
    ['', '/a/b', '/a', 'v0', '/b'],
    // a leading ./ or ../ of the postfix is dropped
    ['/s', '/foo./bar', '/foo', 'v0', '/s/bar'],
    ['/s', '/foo../bar', '/foo', 'v0', '/s/bar'],
    ['/s', '/foo..', '/foo', 'v0', '/s'],
    ['/s', '/foo.', '/foo', 'v0', '/s'],
    ['/s', '/foo.x', '/foo', 'v0', '/s/.x'],
    // regex-stripped prefixes behave the same
    ['/up', '/users/42/orders', '/users/42', 'v0', '/up/orders'],
    ['/up', '/users/42/orders', '/users/42', 'v1', '/up/orders'],
    ['/up/', '/users/42/orders', '/users/42', 'v1', '/up/orders'],
  ];
  for (const [servicePath, req, stripped, handling, expected] of cases) {
    t.equal(joinUpstreamPath(servicePath, req, stripped, handling), expected, `${servicePath} ${req} -${stripped} ${handling}`);
  }
  const same = '/keep/me';
  t.equal(joinUpstreamPath('/', same, '', 'v0'), same, 'base "/" without strip returns the request path');
});

// ---------------------------------------------------------------------------------------------------
interface MatchCase {
  name: string;
  routes: RouteEntity[];
  services?: ServiceEntity[];
  method?: string;
  host?: string;
  path: string;
  headers?: Record<string, string | string[]>;
  dstPort?: number;
  /** expected route id (null = no match) */
  expect: string | null;
  strippedPrefix?: string;
  upstreamPath?: string;
  service?: string | null;
}

const MATCH_CASES: MatchCase[] = [
  // --- prefix paths
  { name: 'prefix matches exact path', routes: [route('a', { paths: ['/api'] })], path: '/api', expect: 'a', strippedPrefix: '/api', upstreamPath: '/' },
  { name: 'prefix is a plain string prefix', routes: [route('a', { paths: ['/api'] })], path: '/apix', expect: 'a', upstreamPath: '/x' },
  { name: 'prefix matches deeper path', routes: [route('a', { paths: ['/api'] })], path: '/api/v1/users', expect: 'a', upstreamPath: '/v1/users' },
  { name: 'prefix does not match elsewhere', routes: [route('a', { paths: ['/api'] })], path: '/v1/api', expect: null },
  { name: 'prefix is case-sensitive', routes: [route('a', { paths: ['/api'] })], path: '/API', expect: null },
  { name: 'shorter path than prefix', routes: [route('a', { paths: ['/api'] })], path: '/ap', expect: null },
  { name: 'root path "/" matches everything', routes: [route('a', { paths: ['/'] })], path: '/anything/here', expect: 'a', strippedPrefix: '/', upstreamPath: '/anything/here' },
  { name: 'root path matches "/"', routes: [route('a', { paths: ['/'] })], path: '/', expect: 'a', upstreamPath: '/' },
  { name: 'no strip keeps the path', routes: [route('a', { paths: ['/api'], strip_path: false })], path: '/api/x', expect: 'a', strippedPrefix: '', upstreamPath: '/api/x' },
  { name: 'longer prefix wins', routes: [route('short', { paths: ['/a'] }), route('long', { paths: ['/a/b'] })], path: '/a/b/c', expect: 'long' },
  { name: 'longer prefix not matching falls back to shorter', routes: [route('short', { paths: ['/a'] }), route('long', { paths: ['/a/b'] })], path: '/a/c', expect: 'short' },
  { name: '/foobar beats /', routes: [route('root', { paths: ['/'] }), route('foobar', { paths: ['/foobar'] })], path: '/foobar/x', expect: 'foobar' },
  { name: 'request "/" only reaches "/" routes', routes: [route('x', { paths: ['/x'] }), route('root', { paths: ['/'] })], path: '/', expect: 'root' },
  { name: 'several paths on one route (OR)', routes: [route('multi', { paths: ['/one', '/two'] })], path: '/two/x', expect: 'multi', strippedPrefix: '/two', upstreamPath: '/x' },
  {
    name: 'paths of one route are ranked separately',
    routes: [route('multi', { paths: ['/', '/users/admin'] }), route('users', { paths: ['/users'] })],
    path: '/users/admin/1',
    expect: 'multi',
    strippedPrefix: '/users/admin',
  },
  {
    name: 'paths of one route are ranked separately (short one loses)',
    routes: [route('multi', { paths: ['/', '/users/admin'] }), route('users', { paths: ['/users'] })],
    path: '/users/1',
    expect: 'users',
  },
  // --- regex paths
  { name: 'regex path matches', routes: [route('re', { paths: ['~/users/\\d+$'] })], path: '/users/42', expect: 're', strippedPrefix: '/users/42', upstreamPath: '/' },
  { name: 'regex anchored at start', routes: [route('re', { paths: ['~/users'] })], path: '/v1/users', expect: null },
  { name: 'regex not anchored at end', routes: [route('re', { paths: ['~/users/\\d+'] })], path: '/users/42/orders', expect: 're', strippedPrefix: '/users/42', upstreamPath: '/orders' },
  { name: 'regex with strip_path false', routes: [route('re', { paths: ['~/users/\\d+'], strip_path: false })], path: '/users/42/orders', expect: 're', strippedPrefix: '', upstreamPath: '/users/42/orders' },
  { name: 'regex beats exact prefix', routes: [route('prefix', { paths: ['/route/fixture'] }), route('re', { paths: ['~/route/(fixture)'] })], path: '/route/fixture', expect: 're' },
  { name: 'regex beats longer prefix', routes: [route('prefix', { paths: ['/a/very/long/prefix/path'] }), route('re', { paths: ['~/a'] })], path: '/a/very/long/prefix/path', expect: 're' },
  {
    name: 'higher regex_priority wins',
    routes: [route('low', { paths: ['~/status/\\d+'], regex_priority: 1 }), route('high', { paths: ['~/status/200'], regex_priority: 5 })],
    path: '/status/200',
    expect: 'high',
  },
  {
    name: 'equal regex_priority keeps file order',
    routes: [route('first', { paths: ['~/status/\\d+'] }), route('second', { paths: ['~/status/200'] })],
    path: '/status/200',
    expect: 'first',
  },
  { name: 'negative regex_priority ranks below 0', routes: [route('neg', { paths: ['~/s'], regex_priority: -1 }), route('zero', { paths: ['~/s'] })], path: '/s', expect: 'zero' },
  { name: 'named capture syntax (?<name>)', routes: [route('re', { paths: ['~/(?<id>\\d+)/x'] })], path: '/12/x/y', expect: 're', upstreamPath: '/y' },
  { name: 'named capture syntax (?P<name>)', routes: [route('re', { paths: ['~/(?P<id>\\d+)/x'] })], path: '/12/x', expect: 're' },
  { name: 'regex (?i) prefix', routes: [route('re', { paths: ['~(?i)/api'] })], path: '/API/x', expect: 're', strippedPrefix: '/API', upstreamPath: '/x' },
  { name: 'regex top-level alternation: second branch unanchored', routes: [route('re', { paths: ['~/a|/b'], strip_path: false })], path: '/x/b', expect: 're' },
  { name: 'regex with optional char', routes: [route('re', { paths: ['~/ap?i'] })], path: '/ai', expect: 're' },
  { name: 'regex on decoded path', routes: [route('re', { paths: ['~/caf.$'] })], path: normalizePath('/caf%C3%A9')!, expect: 're' },
  // --- methods
  { name: 'method matches', routes: [route('get', { methods: ['GET'] })], method: 'GET', path: '/x', expect: 'get', strippedPrefix: '', upstreamPath: '/x' },
  { name: 'method mismatch', routes: [route('get', { methods: ['GET', 'HEAD'] })], method: 'POST', path: '/x', expect: null },
  { name: 'methods+paths beats paths', routes: [route('paths', { paths: ['/x'] }), route('both', { paths: ['/x'], methods: ['POST'] })], method: 'POST', path: '/x', expect: 'both' },
  { name: 'methods+paths not matching falls back', routes: [route('paths', { paths: ['/x'] }), route('both', { paths: ['/x'], methods: ['POST'] })], method: 'GET', path: '/x', expect: 'paths' },
  // --- hosts
  { name: 'exact host', routes: [route('h', { hosts: ['example.com'] })], host: 'example.com', path: '/', expect: 'h', upstreamPath: '/' },
  { name: 'exact host with request port', routes: [route('h', { hosts: ['example.com'] })], host: 'example.com:8000', path: '/', expect: 'h' },
  { name: 'exact host is case-insensitive', routes: [route('h', { hosts: ['Example.com'] })], host: 'EXAMPLE.com', path: '/', expect: 'h' },
  { name: 'exact host mismatch', routes: [route('h', { hosts: ['example.com'] })], host: 'example.org', path: '/', expect: null },
  { name: 'host route without Host header', routes: [route('h', { hosts: ['example.com'] })], path: '/', expect: null },
  { name: 'leftmost wildcard', routes: [route('w', { hosts: ['*.example.com'] })], host: 'a.b.example.com', path: '/', expect: 'w' },
  { name: 'leftmost wildcard needs a label', routes: [route('w', { hosts: ['*.example.com'] })], host: 'example.com', path: '/', expect: null },
  { name: 'rightmost wildcard', routes: [route('w', { hosts: ['example.*'] })], host: 'example.org:8080', path: '/', expect: 'w' },
  { name: 'rightmost wildcard mismatch', routes: [route('w', { hosts: ['example.*'] })], host: 'www.example.org', path: '/', expect: null },
  { name: 'plain host beats wildcard', routes: [route('w', { hosts: ['*.example.com'] }), route('p', { hosts: ['api.example.com'] })], host: 'api.example.com', path: '/', expect: 'p' },
  { name: 'wildcard used when plain does not match', routes: [route('w', { hosts: ['*.example.com'] }), route('p', { hosts: ['api.example.com'] })], host: 'web.example.com', path: '/', expect: 'w' },
  {
    name: 'mixed plain+wildcard hosts rank as wildcard',
    routes: [route('mixed', { hosts: ['a.test', '*.b.test'], paths: ['/long/prefix'] }), route('plain', { hosts: ['a.test'], paths: ['/long'] })],
    host: 'a.test',
    path: '/long/prefix',
    expect: 'plain',
  },
  { name: 'route host with port requires that port', routes: [route('p', { hosts: ['example.com:8080'] })], host: 'example.com:8080', path: '/', expect: 'p' },
  { name: 'route host with port rejects another port', routes: [route('p', { hosts: ['example.com:8080'] })], host: 'example.com:9090', path: '/', expect: null },
  { name: 'route host with port rejects no port', routes: [route('p', { hosts: ['example.com:8080'] })], host: 'example.com', path: '/', expect: null },
  { name: 'route host port checked against dstPort when given', routes: [route('p', { hosts: ['example.com:8000'] })], host: 'example.com', dstPort: 8000, path: '/', expect: 'p' },
  { name: 'hosts+paths beats paths alone', routes: [route('paths', { paths: ['/x'] }), route('both', { paths: ['/x'], hosts: ['h.test'] })], host: 'h.test', path: '/x/y', expect: 'both' },
  { name: 'paths-only route still serves other hosts', routes: [route('paths', { paths: ['/x'] }), route('both', { paths: ['/x'], hosts: ['h.test'] })], host: 'other.test', path: '/x/y', expect: 'paths' },
  { name: 'host-agnostic route with more fields beats host route', routes: [route('host', { hosts: ['h.test'] }), route('mp', { methods: ['GET'], paths: ['/'] })], host: 'h.test', path: '/', expect: 'mp' },
  { name: 'IPv6 Host header', routes: [route('v6', { hosts: ['[::1]'] })], host: '[::1]:8000', path: '/', expect: 'v6' },
  // --- headers
  { name: 'header exact value', routes: [route('h', { headers: { 'X-Version': ['v1', 'v2'] } })], headers: { 'x-version': 'v2' }, path: '/', expect: 'h' },
  { name: 'header value case-insensitive', routes: [route('h', { headers: { 'x-version': ['V1'] } })], headers: { 'x-version': 'v1' }, path: '/', expect: 'h' },
  { name: 'header value mismatch', routes: [route('h', { headers: { 'x-version': ['v1'] } })], headers: { 'x-version': 'v3' }, path: '/', expect: null },
  { name: 'header missing', routes: [route('h', { headers: { 'x-version': ['v1'] } })], path: '/', expect: null },
  { name: 'all header names required (AND)', routes: [route('h', { headers: { 'x-a': ['1'], 'x-b': ['2'] } })], headers: { 'x-a': '1' }, path: '/', expect: null },
  { name: 'all header names present', routes: [route('h', { headers: { 'x-a': ['1'], 'x-b': ['2'] } })], headers: { 'x-a': '1', 'x-b': '2' }, path: '/', expect: 'h' },
  { name: 'header regex value', routes: [route('h', { headers: { 'x-client': ['~*^curl/\\d'] } })], headers: { 'x-client': 'Curl/8.1' }, path: '/', expect: 'h' },
  { name: 'header regex unanchored', routes: [route('h', { headers: { 'x-client': ['~*bot'] } })], headers: { 'x-client': 'GoogleBot/2.1' }, path: '/', expect: 'h' },
  { name: 'header array values: any matches', routes: [route('h', { headers: { 'x-tag': ['b'] } })], headers: { 'x-tag': ['a', 'b'] }, path: '/', expect: 'h' },
  {
    name: 'more headers wins',
    routes: [route('one', { headers: { 'x-a': ['1'] }, paths: ['/x'] }), route('two', { headers: { 'x-a': ['1'], 'x-b': ['2'] }, paths: ['/x'] })],
    headers: { 'x-a': '1', 'x-b': '2' },
    path: '/x',
    expect: 'two',
  },
  {
    name: 'header count beats regex path',
    routes: [route('re', { headers: { 'x-a': ['1'] }, paths: ['~/x'] }), route('two', { headers: { 'x-a': ['1'], 'x-b': ['2'] }, paths: ['/x'] })],
    headers: { 'x-a': '1', 'x-b': '2' },
    path: '/x',
    expect: 'two',
  },
  {
    name: 'field count beats header count',
    routes: [route('hdrs', { headers: { 'x-a': ['1'], 'x-b': ['2'], 'x-c': ['3'] } }), route('fields', { headers: { 'x-a': ['1'] }, paths: ['/'] })],
    headers: { 'x-a': '1', 'x-b': '2', 'x-c': '3' },
    path: '/',
    expect: 'fields',
  },
  // --- services
  { name: 'route without service still matches', routes: [route('nosvc', { service: undefined, paths: ['/n'] })], path: '/n/x', expect: 'nosvc', service: null, upstreamPath: '/x' },
  {
    name: 'disabled service: its route is left out',
    routes: [route('off', { service: 'off', paths: ['/x'] })],
    services: [svc('off', { enabled: false })],
    path: '/x',
    expect: null,
  },
  {
    name: 'disabled service: a lower route answers instead',
    routes: [route('off', { service: 'off', paths: ['/x/y'] }), route('on', { paths: ['/x'] })],
    services: [svc('off', { enabled: false }), svc('s')],
    path: '/x/y',
    expect: 'on',
    service: 's',
    upstreamPath: '/y',
  },
  { name: 'service path joined and escaped', routes: [route('a', { paths: ['/api'] })], services: [svc('s', { path: '/base' })], path: '/api/cat and dog', expect: 'a', upstreamPath: '/base/cat%20and%20dog' },
  // --- other
  { name: 'stream-only route ignored', routes: [route('tcp', { protocols: ['tcp'], paths: ['/'] })], path: '/', expect: null },
  { name: 'https-only route still matches (caller answers 426)', routes: [route('tls', { protocols: ['https'], paths: ['/'] })], path: '/', expect: 'tls' },
  { name: 'ties keep file order', routes: [route('first', { paths: ['/same'] }), route('second', { paths: ['/same'] })], path: '/same', expect: 'first' },
  { name: 'no routes', routes: [], path: '/', expect: null },
  { name: 'non-ascii first character bucket', routes: [route('u', { paths: ['/é'] }), route('root', { paths: ['/'] })], path: '/éa', expect: 'u', upstreamPath: '/a' },
];

t.test('Router.match', async (t) => {
  for (const c of MATCH_CASES) {
    const router = new Router(c.routes, servicesMap(...(c.services ?? [svc('s')])));
    const m = router.match(c.method ?? 'GET', c.host, c.path, c.headers ?? {}, c.dstPort);
    if (c.expect === null) {
      t.equal(m, null, c.name);
      continue;
    }
    t.equal(m?.route.id, c.expect, c.name);
    if (c.strippedPrefix !== undefined) t.equal(m?.strippedPrefix, c.strippedPrefix, `${c.name}: strippedPrefix`);
    if (c.upstreamPath !== undefined) t.equal(m?.upstreamPath, c.upstreamPath, `${c.name}: upstreamPath`);
    if (c.service !== undefined) t.equal(m?.service?.id ?? null, c.service, `${c.name}: service`);
  }
});

t.test('Router: host buckets and the path index keep the priority order', async (t) => {
  const routes: RouteEntity[] = [
    route('root', { paths: ['/'] }),
    route('api', { paths: ['/api'] }),
    route('apiv1', { paths: ['/api/v1'], hosts: ['a.test'] }),
    route('apiw', { paths: ['/api'], hosts: ['*.test'] }),
    route('users', { paths: ['~/users/\\d+'], regex_priority: 2 }),
    route('usersA', { paths: ['~/users/1'], hosts: ['a.test'] }),
    route('hostonly', { hosts: ['b.test'] }),
    route('post', { methods: ['POST'] }),
    route('hdr', { headers: { 'x-a': ['1'] }, paths: ['/api'] }),
    route('bport', { hosts: ['b.test:81'], paths: ['/b'] }),
  ];
  const router = new Router(routes, servicesMap(svc('s')));
  const cases: [string, string | undefined, string, Record<string, string>, string | null][] = [
    ['GET', 'a.test', '/api/v1/x', {}, 'apiv1'],
    ['GET', 'c.test', '/api/v1/x', {}, 'apiw'],
    ['GET', undefined, '/api/v1/x', {}, 'api'],
    ['GET', undefined, '/api/v1/x', { 'x-a': '1' }, 'hdr'],
    ['GET', 'a.test', '/users/1', {}, 'usersA'],
    ['GET', 'c.test', '/users/1', {}, 'users'],
    ['GET', 'b.test', '/users/1', {}, 'hostonly'], // a plain-host route outranks a regex path
    ['GET', 'b.test', '/zzz', {}, 'hostonly'],
    ['GET', 'b.test:81', '/b', {}, 'bport'],
    ['GET', 'b.test:82', '/b', {}, 'hostonly'],
    ['POST', undefined, '/zzz', {}, 'root'], // '/' (weight 1, length 1) before methods-only (length 0)
    ['POST', 'b.test', '/', {}, 'hostonly'],
    ['POST', 'b.test', '/b', {}, 'hostonly'],
    ['POST', 'a.test', '/api/v1', {}, 'apiv1'],
    ['GET', undefined, '/', {}, 'root'],
    ['GET', undefined, '/zzz', {}, 'root'],
  ];
  for (const [method, host, path, headers, expected] of cases) {
    t.equal(router.match(method, host, path, headers)?.route.id ?? null, expected, `${method} ${host} ${path} ${JSON.stringify(headers)}`);
  }
});

t.test('Router: path_handling v1 is ignored unless asked for (traditional_compatible)', async (t) => {
  const r = route('v1', { paths: ['/rou'], path_handling: 'v1' });
  const services = servicesMap(svc('s', { path: '/srv' }));
  t.equal(new Router([r], services).match('GET', undefined, '/roureq', {})?.upstreamPath, '/srv/req');
  t.equal(new Router([r], services, { honourPathHandlingV1: true }).match('GET', undefined, '/roureq', {})?.upstreamPath, '/srvreq');
});

t.test('regexLiteralPrefix (index key of a regex path)', async (t) => {
  const cases: [string, string][] = [
    ['/users/\\d+', '/users/'],
    ['/a|/b', ''],
    ['/(a|b)', '/'],
    ['/ap?i', '/a'],
    ['/ab*', '/a'],
    ['/ab+', '/ab'],
    ['/a{2}', '/'],
    ['/a\\.b', '/a.b'],
    ['/a.b', '/a'],
    ['/[ab]x', '/'],
    ['/x[|]y', '/x'],
    ['^/b', '/b'],
    ['/é/x', '/é/x'],
    ['/a\\d', '/a'],
  ];
  for (const [pattern, expected] of cases) {
    const re = compileRoutePathRegex(pattern);
    t.equal(regexLiteralPrefix(re.source, re.flags), expected, pattern);
  }
  const ci = compileRoutePathRegex('(?i)/api');
  t.equal(ci.flags.includes('i'), true, '(?i) becomes the i flag');
  t.equal(regexLiteralPrefix(ci.source, ci.flags), '', 'no literal key for a case-insensitive regex');
});

// ---------------------------------------------------------------------------------------------------
t.test('route rules', async (t) => {
  const paths: [string, string | null][] = [
    ['/', null],
    ['/api/v1', null],
    ['/api/', null],
    ['/foo%2Fbar', null],
    ['/.well-known', null],
    ['~/users/\\d+', null],
    ['~/(?<id>\\d+)', null],
    ['~/(?P<id>\\d+)', null],
    ['api', 'must start with "/" or "~"'],
    ['', 'must start with "/" or "~"'],
    ['/foo//bar', 'must not have empty segments'],
    ['/foo/../bar', "non-normalized path, consider use '/bar' instead"],
    ['/foo/./bar', "non-normalized path, consider use '/foo/bar' instead"],
    ['/h%65llo', "non-normalized path, consider use '/hello' instead"],
    ['/foo%2fbar', "non-normalized path, consider use '/foo%2Fbar' instead"],
    ['/foo/..', "non-normalized path, consider use '/' instead"],
    ['/a%zz', "invalid url-encoded value: '%zz'"],
    ['/a%2', "invalid url-encoded value: '%2'"],
    ['~/users/(\\d+', "invalid regex: '/users/(\\d+' (Invalid regular expression: /^/users/(\\d+/: Unterminated group)"],
    ['~/a[', "invalid regex: '/a[' (Invalid regular expression: /^/a[/: Unterminated character class)"],
  ];
  for (const [p, expected] of paths) t.equal(checkRoutePath(p), expected, `path ${JSON.stringify(p)}`);

  const hosts: [string, string | null][] = [
    ['example.com', null],
    ['example.com:8080', null],
    ['*.example.com', null],
    ['example.*', null],
    ['*.example.com:8080', null],
    ['localhost', null],
    ['127.0.0.1', null],
    ['127.0.0.1:80', null],
    ['[::1]:8000', null],
    ['under_score.test', null],
    ['fqdn.example.com.', null],
    ['ex*ample.com', 'invalid wildcard: must be placed at leftmost or rightmost label'],
    ['*example.com', 'invalid wildcard: must be placed at leftmost or rightmost label'],
    ['a.*.com', 'invalid wildcard: must be placed at leftmost or rightmost label'],
    ['*.example.*', 'invalid wildcard: must have at most one wildcard'],
    ['bad host', 'invalid hostname: bad host'],
    ['bad-.host', 'invalid hostname: bad-.host'],
    ['a..b', 'invalid hostname: a..b'],
    ['example.com:99999', 'invalid port number'],
    ['300.1.1.1', 'invalid ipv4 address: 300.1.1.1'],
  ];
  for (const [h, expected] of hosts) t.equal(checkRouteHost(h), expected, `host ${JSON.stringify(h)}`);

  const methods: [string, string | null][] = [
    ['GET', null],
    ['PURGE', null],
    ['get', 'invalid value: get'],
    ['GET1', 'invalid value: GET1'],
    ['', 'invalid value: '],
  ];
  for (const [m, expected] of methods) t.equal(checkRouteMethod(m), expected, `method ${JSON.stringify(m)}`);

  const hostHeader = "cannot contain 'host' header, which must be specified in the 'hosts' attribute";
  const names: [string, string | null][] = [
    ['x-version', null],
    ['X_Custom-1', null],
    ['host', hostHeader],
    ['Host', hostHeader],
    ['HOST', hostHeader],
    ['x version', "bad header name 'x version', allowed characters are A-Z, a-z, 0-9, '_', and '-'"],
  ];
  for (const [n, expected] of names) t.equal(checkRouteHeaderName(n), expected, `header ${JSON.stringify(n)}`);
});

// ---------------------------------------------------------------------------------------------------
t.test('kong/router/transform.lua: route snis on TLS requests only, in the route priority', async (t) => {
  const routes = [
    route('any', { paths: ['/'] }),
    route('exact', { paths: ['/'], snis: ['api.example.com'] }),
    route('star', { paths: ['/'], snis: ['*.example.org'] }),
    route('prefix', { paths: ['/'], snis: ['shop.*'] }),
    route('fqdn', { paths: ['/'], snis: ['dot.example.net.'] }),
  ];
  const router = new Router(routes, servicesMap(svc('s')));
  const on = (sni: string | undefined) => router.match('GET', 'h', '/', {}, undefined, sni)?.route.id;
  t.equal(on('api.example.com'), 'exact', 'a route with snis outranks one without');
  t.equal(on('API.example.com'), 'exact');
  t.equal(on('a.b.example.org'), 'star', '*.x: any name ending in .x');
  t.equal(on('shop.example.io'), 'prefix', 'x.*: any name starting with x.');
  t.equal(on('dot.example.net'), 'fqdn', "a route sni's final dot is dropped");
  t.equal(on('other.test'), 'any');
  t.equal(on(''), 'any', 'TLS without a server name: no route with snis');
  t.equal(on(undefined), 'exact', 'plain HTTP: snis are not looked at (net.protocol != "https")');
});
