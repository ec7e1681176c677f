// Every kind of credential, right and wrong, through allowed and refused requests; then every output the gateway
// has (event log, access log, /metrics, error answers, Admin API) is searched for each secret value.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type Reply, type RequestOptions, type Upstream } from '../helpers/http';
import type { RunningGateway } from '../helpers/cli';
import { startObserved, type ObservedBench } from '../helpers/observe';
import { basic } from '../helpers/auth';
import { yaml } from '../helpers/config';
import { waitFor } from '../helpers/wait';

// Distinct random values, long enough that a shown prefix would still leave most of each hidden.
const secret = (what: string) => `${what}-${randomBytes(12).toString('hex')}`;
const S = {
  headerKey: secret('header-key'),
  queryKey: secret('query-key'),
  bodyKey: secret('body-key'),
  shortKey: secret('s').slice(0, 10),
  password: secret('password'),
  redisPassword: secret('redis-password'),
  adminToken: secret('admin-token'),
  wrongHeaderKey: secret('wrong-header-key'),
  wrongQueryKey: secret('wrong-query-key'),
  wrongBodyKey: secret('wrong-body-key'),
  wrongPassword: secret('wrong-password'),
  unknownUserPassword: secret('unknown-user-password'),
};

function config(upstreamPort: number): string {
  const keyAuth = '{name: key-auth, config: {key_in_body: true}}';
  return yaml(
    '_format_version: "3.0"',
    'services:',
    '  - name: up',
    `    url: http://127.0.0.1:${upstreamPort}`,
    '    routes:',
    `      - {name: keyed, paths: [/keyed], plugins: [${keyAuth}]}`,
    '      - {name: basic, paths: [/basic], plugins: [{name: basic-auth}]}',
    '      - name: acl',
    '        paths: [/acl]',
    '        plugins:',
    '          - {name: key-auth, config: {anonymous: nobody}}',
    '          - {name: basic-auth, config: {anonymous: nobody}}',
    '          - {name: acl, config: {allow: [nowhere]}}',
    `      - {name: limited, paths: [/limited], plugins: [${keyAuth}, {name: rate-limiting, config: {year: 1, redis: {password: ${S.redisPassword}}}}]}`,
    '  - name: down',
    '    url: http://127.0.0.1:9',
    `    routes: [{name: broken, paths: [/broken], plugins: [${keyAuth}]}]`,
    'consumers:',
    '  - username: nobody',
    '  - username: alice',
    `    keyauth_credentials: [{key: ${S.headerKey}}, {key: ${S.queryKey}}, {key: ${S.bodyKey}}, {key: ${S.shortKey}}]`,
    `    basicauth_credentials: [{username: alice, password: ${S.password}}]`,
  );
}

let bench: ObservedBench;
let upstream: Upstream;
let gw: RunningGateway;

t.before(async () => {
  bench = await startObserved(config, ['--log-level', 'debug', '--metrics-per-consumer', '--admin-token', S.adminToken]);
  ({ upstream, gw } = bench);
});
t.teardown(() => bench.close());

const json = (body: unknown): RequestOptions => {
  const text = JSON.stringify(body);
  return { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': String(text.length) }, body: text };
};
const form = (body: string): RequestOptions => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(body.length) },
  body,
});
const admin = (path: string, opts: RequestOptions = {}) =>
  request(gw.adminPort!, path, { ...opts, headers: { ...opts.headers, Authorization: `Bearer ${S.adminToken}` } });

t.test('no secret value in any log, metric, error answer or Admin API output', async (t) => {
  const proxied: Array<[string, string, RequestOptions, number]> = [
    // allowed
    ['header key', '/keyed', { headers: { apikey: S.headerKey } }, 200],
    ['query key', `/keyed?apikey=${S.queryKey}`, {}, 200],
    ['JSON body key', '/keyed', json({ apikey: S.bodyKey }), 200],
    ['form body key', '/keyed', form(`apikey=${S.bodyKey}`), 200],
    ['short key', '/keyed', { headers: { apikey: S.shortKey } }, 200],
    ['basic-auth', '/basic', { headers: { Authorization: basic('alice', S.password) } }, 200],
    ['basic-auth via Proxy-Authorization', '/basic', { headers: { 'Proxy-Authorization': basic('alice', S.password) } }, 200],
    // wrong credentials
    ['wrong header key', '/keyed', { headers: { apikey: S.wrongHeaderKey } }, 401],
    ['wrong query key', `/keyed?apikey=${S.wrongQueryKey}`, {}, 401],
    ['wrong body key', '/keyed', json({ apikey: S.wrongBodyKey }), 401],
    ['wrong form key', '/keyed', form(`apikey=${S.wrongBodyKey}`), 401],
    ['duplicate key', `/keyed?apikey=${S.queryKey}&apikey=${S.wrongQueryKey}`, {}, 401],
    ['wrong password', '/basic', { headers: { Authorization: basic('alice', S.wrongPassword) } }, 401],
    ['unknown user', '/basic', { headers: { Authorization: basic('mallory', S.unknownUserPassword) } }, 401],
    // right credentials, refused all the same
    ['acl, header key', '/acl', { headers: { apikey: S.headerKey } }, 403],
    ['acl, query key', `/acl?apikey=${S.queryKey}`, {}, 403],
    ['acl, basic-auth', '/acl', { headers: { Authorization: basic('alice', S.password) } }, 403],
    ['under the limit', `/limited?apikey=${S.queryKey}`, {}, 200],
    ['over the limit, query key', `/limited?apikey=${S.queryKey}`, {}, 429],
    ['over the limit, body key', '/limited', json({ apikey: S.bodyKey }), 429],
    ['upstream down, header key', '/broken', { headers: { apikey: S.headerKey } }, 502],
    ['upstream down, query key', `/broken?apikey=${S.queryKey}`, {}, 502],
    ['no route, query key', `/nothing?apikey=${S.queryKey}`, {}, 404],
    ['no route, basic-auth', '/nothing', { headers: { Authorization: basic('alice', S.password) } }, 404],
  ];
  const answers: string[] = [];
  const show = (r: Reply) => `${r.status} ${JSON.stringify(r.headers)}\n${r.body}`;
  for (const [what, path, opts, status] of proxied) {
    const r = await request(gw.proxyPort, path, opts);
    t.equal(r.status, status, what);
    // The upstream's own answers echo the request (credentials included) to the client that sent it; every
    // answer the gateway made itself, and every header, is searched.
    answers.push(status === 200 ? `${r.status} ${JSON.stringify(r.headers)}` : show(r));
  }
  t.ok(upstream.seen.some((s) => s.headers.apikey === S.headerKey && s.headers['x-consumer-username'] === 'alice'), 'the credentials did reach the upstream');

  const adminPaths = [
    '/',
    '/status',
    '/metrics',
    '/config',
    '/services',
    '/routes',
    '/consumers',
    '/plugins',
    '/key-auths',
    '/basic-auths',
    '/acls',
    '/consumers/alice/key-auth',
    '/consumers/alice/basic-auth',
    '/consumers/alice/plugins',
    '/services/up/plugins',
    '/routes/limited/plugins',
    `/key-auths/${S.headerKey}`,
    `/key-auths/${S.queryKey}/consumer`,
    '/basic-auths/alice',
    '/schemas/plugins/key-auth',
  ];
  const adminOutput: string[] = [];
  for (const path of adminPaths) {
    const r = await admin(path);
    t.equal(r.status, 200, path);
    adminOutput.push(show(r)); // the answer only: two of these paths hold a key
  }
  const posted = config(upstream.port);
  const post = (query: string, body: string) =>
    admin(`/config${query}`, { method: 'POST', headers: { 'Content-Type': 'text/yaml', 'Content-Length': String(Buffer.byteLength(body)) }, body });
  const accepted = await post('', posted);
  t.equal(accepted.status, 201, 'POST /config');
  adminOutput.push(show(accepted));
  const invalid = await post('?flatten_errors=1', posted.replace('- username: nobody', `- username: nobody\n    keyauth_credentials: [{key: ${S.headerKey}}]`));
  t.equal(invalid.status, 400, 'POST /config with a duplicated key');
  adminOutput.push(show(invalid));
  const unauthorized = await request(gw.adminPort!, '/metrics', { headers: { Authorization: `Bearer ${S.wrongHeaderKey}` } });
  t.equal(unauthorized.status, 401, 'the admin token guards /metrics');
  adminOutput.push(show(unauthorized));

  await waitFor('every request in the access log', () => (bench.lines().length === proxied.length ? true : undefined));
  await gw.stop(); // everything written and flushed
  const outputs: Record<string, string> = {
    'event log (stderr)': gw.logs(),
    stdout: gw.output(),
    'access log file': readFileSync(bench.logFile, 'utf8'),
    'gateway answers': answers.join('\n'),
    'Admin API output': adminOutput.join('\n'),
  };
  t.match(outputs['access log file'], `/keyed?apikey=[REDACTED]`, 'query keys are there, redacted');
  t.match(outputs['Admin API output'], /kong_http_requests_total\{service="up",route="keyed",code="200",source="service",consumer="alice"\} 5/, 'metrics were read');
  for (const [name, value] of Object.entries(S)) {
    for (const [where, text] of Object.entries(outputs)) {
      t.notOk(text.includes(value), `${name} not in ${where}`);
      t.notOk(text.includes(value.slice(-12)), `no part of ${name} in ${where}`);
    }
  }
});
