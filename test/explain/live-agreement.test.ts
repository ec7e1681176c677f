// `gateway explain` and the running gateway, on the same file, for the same requests: the same route, the same
// consumer, the same outcome. Both are the real CLI; the upstream is real and tells which route forwarded to it
// (each route has its own service, whose path is the route's name).
import t from 'tap';
import bcrypt from 'bcryptjs';
import { request, startUpstream } from '../helpers/http';
import { availableParallelism } from 'node:os';
import { runCliAsync, startGateway, type RunResult } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { basic } from '../helpers/auth';

// Thirty CLI runs of explain, each loading the config: more than the default time per test file.
t.setTimeout(300_000);

const ALICE_KEY = 'alice-7f3c9a1e5b2d8046';
const BOB_KEY = 'bob-2d8e6b0c4a9f1357';

function config(upstreamPort: number): string {
  const svc = (route: string) => [`  - name: ${route}-svc`, `    url: http://127.0.0.1:${upstreamPort}/${route}`, '    routes:'];
  return yaml(
    '_format_version: "3.0"',
    'consumers:',
    '  - username: anon',
    '    plugins: [{name: request-termination, config: {status_code: 401, message: credentials required}}]',
    '  - username: guest',
    '  - username: alice',
    `    keyauth_credentials: [{key: ${ALICE_KEY}}]`,
    `    basicauth_credentials: [{username: alice, password: '${bcrypt.hashSync('alice-pass', 4)}'}]`,
    '    acls: [{group: staff}]',
    '  - username: bob',
    `    keyauth_credentials: [{key: ${BOB_KEY}}]`,
    `    basicauth_credentials: [{username: bob, password: '${bcrypt.hashSync('bob-pass', 4)}'}]`,
    'services:',
    ...svc('public'),
    '      - name: public',
    '        paths: [/public]',
    '        methods: [GET, HEAD]',
    '        plugins: [{name: rate-limiting, config: {minute: 1000}}]',
    '      - name: public-write',
    '        paths: [/public]',
    '        methods: [POST]',
    '        plugins: [{name: request-termination, config: {status_code: 405, message: read only}}]',
    ...svc('keyed'),
    '      - {name: keyed, paths: [/keyed], plugins: [{name: key-auth, config: {realm: keyed}}]}',
    ...svc('keyed-v2'),
    '      - {name: keyed-v2, paths: [/keyed], headers: {x-version: ["2"]}, plugins: [{name: key-auth}]}',
    ...svc('basic'),
    '      - {name: basic, paths: [/basic], plugins: [{name: basic-auth, config: {realm: basic}}]}',
    ...svc('both'),
    '      - {name: both, paths: [/both], plugins: [{name: key-auth}, {name: basic-auth}]}',
    ...svc('either'),
    '      - name: either',
    '        paths: [/either]',
    '        plugins: [{name: key-auth, config: {anonymous: anon}}, {name: basic-auth, config: {anonymous: anon}}]',
    ...svc('open'),
    '      - {name: open, paths: [/open], plugins: [{name: key-auth, config: {anonymous: guest}}]}',
    ...svc('staff'),
    '      - {name: staff, paths: [/staff], plugins: [{name: key-auth}, {name: acl, config: {allow: [staff]}}]}',
    ...svc('api-host'),
    '      - {name: api-host, hosts: [api.test], paths: [/], strip_path: false}',
    ...svc('user-by-id'),
    "      - {name: user-by-id, paths: ['~/users/\\d+$']}",
    'routes:',
    '  - {name: maintenance, paths: [/maintenance], plugins: [{name: request-termination, config: {status_code: 503, message: back soon}}]}',
    '  - {name: teapot, paths: [/teapot], plugins: [{name: request-termination, config: {status_code: 418, trigger: X-Brew}}]}',
  );
}

interface Case {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  route: string | null;
  consumer: string | null;
  /** 'proxied', or the status the gateway answers with itself. */
  outcome: 'proxied' | number;
}

const CASES: Case[] = [
  { path: '/public', route: 'public', consumer: null, outcome: 'proxied' },
  { method: 'HEAD', path: '/public/x?y=1', route: 'public', consumer: null, outcome: 'proxied' },
  { method: 'POST', path: '/public', route: 'public-write', consumer: null, outcome: 405 },
  { method: 'DELETE', path: '/public', route: null, consumer: null, outcome: 404 },
  { path: '/keyed', route: 'keyed', consumer: null, outcome: 401 },
  { path: '/keyed', headers: { apikey: 'not-a-key' }, route: 'keyed', consumer: null, outcome: 401 },
  { path: '/keyed/a', headers: { apikey: ALICE_KEY }, route: 'keyed', consumer: 'alice', outcome: 'proxied' },
  { path: `/keyed?apikey=${BOB_KEY}&x=1`, route: 'keyed', consumer: 'bob', outcome: 'proxied' },
  { path: '/keyed', headers: { apikey: ALICE_KEY, 'X-Version': '2' }, route: 'keyed-v2', consumer: 'alice', outcome: 'proxied' },
  { path: '/basic', headers: { authorization: basic('alice', 'alice-pass') }, route: 'basic', consumer: 'alice', outcome: 'proxied' },
  { path: '/basic', headers: { authorization: basic('alice', 'wrong') }, route: 'basic', consumer: null, outcome: 401 },
  { path: '/both', headers: { apikey: ALICE_KEY, authorization: basic('alice', 'alice-pass') }, route: 'both', consumer: 'alice', outcome: 'proxied' },
  { path: '/both', headers: { apikey: ALICE_KEY }, route: 'both', consumer: 'alice', outcome: 401 },
  { path: '/either', route: 'either', consumer: 'anon', outcome: 401 },
  { path: '/either', headers: { authorization: basic('bob', 'bob-pass') }, route: 'either', consumer: 'bob', outcome: 'proxied' },
  { path: '/either', headers: { apikey: ALICE_KEY, authorization: basic('bob', 'bob-pass') }, route: 'either', consumer: 'alice', outcome: 'proxied' },
  { path: '/either', headers: { apikey: 'not-a-key' }, route: 'either', consumer: 'anon', outcome: 401 },
  { path: '/open', route: 'open', consumer: 'guest', outcome: 'proxied' },
  { path: '/open', headers: { apikey: BOB_KEY }, route: 'open', consumer: 'bob', outcome: 'proxied' },
  { path: '/staff', headers: { apikey: ALICE_KEY }, route: 'staff', consumer: 'alice', outcome: 'proxied' },
  { path: '/staff', headers: { apikey: BOB_KEY }, route: 'staff', consumer: 'bob', outcome: 403 },
  { path: '/anything', headers: { host: 'api.test' }, route: 'api-host', consumer: null, outcome: 'proxied' },
  { path: '/anything', headers: { host: 'other.test' }, route: null, consumer: null, outcome: 404 },
  { path: '/users/42', route: 'user-by-id', consumer: null, outcome: 'proxied' },
  { path: '/users/abc', route: null, consumer: null, outcome: 404 },
  { path: '/maintenance', route: 'maintenance', consumer: null, outcome: 503 },
  { path: '/teapot', headers: { 'X-Brew': '1' }, route: 'teapot', consumer: null, outcome: 418 },
  { path: '/teapot', route: 'teapot', consumer: null, outcome: 503 },
];

t.test('explain and the live gateway agree on route, consumer and outcome', async (t) => {
  t.ok(CASES.length >= 20);
  const upstream = await startUpstream();
  const gw = await startGateway(config(upstream.port));
  t.teardown(async () => {
    await gw.stop();
    await upstream.close();
  });

  // One explain process per request, as many at once as there are cores.
  const explanations: RunResult[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < CASES.length; i = next++) {
      const c = CASES[i];
      const headerArgs = Object.entries(c.headers ?? {}).flatMap(([n, v]) => ['-H', `${n}: ${v}`]);
      explanations[i] = await runCliAsync(['explain', '-c', gw.configFile, '--format', 'json', '-X', c.method ?? 'GET', ...headerArgs, `http://127.0.0.1:${gw.proxyPort}${c.path}`]);
    }
  };
  await Promise.all(Array.from({ length: availableParallelism() }, worker));
  for (const [i, c] of CASES.entries()) {
    const method = c.method ?? 'GET';
    const label = `${method} ${c.path} ${JSON.stringify(c.headers ?? {})}`;
    const run = explanations[i];
    t.equal(run.status, 0, `${label}: explain exits 0 ${run.stderr}`);
    const x = JSON.parse(run.stdout);
    const explained = {
      route: x.route?.name ?? null,
      consumer: x.consumer?.username ?? null,
      outcome: x.outcome.action === 'proxied' ? 'proxied' : x.outcome.status,
    };
    t.same(explained, { route: c.route, consumer: c.consumer, outcome: c.outcome }, `${label}: explain`);

    const before = upstream.seen.length;
    const live = await request(gw.proxyPort, c.path, { method, headers: c.headers });
    const proxied = live.headers['x-upstream'] === 'yes';
    t.equal(proxied ? 'proxied' : live.status, c.outcome, `${label}: live outcome`);
    if (proxied) {
      const seen = upstream.seen[before];
      t.equal(seen.url.split(/[/?]/)[1], c.route, `${label}: live route (the upstream path starts with it)`);
      t.equal(seen.headers['x-consumer-username'] ?? null, c.consumer, `${label}: live consumer`);
      const sent = `http://127.0.0.1:${upstream.port}${seen.url}`.replace(BOB_KEY, '***');
      t.equal(x.outcome.upstream, sent, `${label}: explain's upstream URL is what the upstream got (the key masked)`);
    } else {
      t.equal(x.outcome.status, live.status, `${label}: status`);
      if (method !== 'HEAD') t.equal(JSON.parse(x.outcome.body).message, live.json().message, `${label}: message`);
      t.equal(x.outcome.headers['www-authenticate'], live.headers['www-authenticate'], `${label}: challenge`);
    }
  }
});
