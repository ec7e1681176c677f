// Real requests through the real CLI (upstream on loopback, access log to a file), then the access log lines and
// the Admin API's /metrics text they produced.
import t from 'tap';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { request, type Reply, type Upstream } from '../helpers/http';
import type { RunningGateway } from '../helpers/cli';
import { startObserved, type ObservedBench } from '../helpers/observe';
import { yaml } from '../helpers/config';
import { waitFor } from '../helpers/wait';

const ALICE_KEY = 'alice-key-0123456789';

function config(upstreamPort: number): string {
  return yaml(
    '_format_version: "3.0"',
    'services:',
    '  - name: up',
    `    url: http://127.0.0.1:${upstreamPort}`,
    '    routes:',
    '      - {name: open, paths: [/open]}',
    '      - {name: keyed, paths: [/keyed], plugins: [{name: key-auth}]}',
    '      - name: admins',
    '        paths: [/admins]',
    '        plugins: [{name: key-auth}, {name: acl, config: {allow: [admins]}}]',
    '      - {name: limited, paths: [/limited], plugins: [{name: rate-limiting, config: {year: 1, limit_by: ip}}]}',
    '      - {name: teapot, paths: [/teapot], plugins: [{name: request-termination, config: {status_code: 418}}]}',
    '  - name: down',
    '    url: http://127.0.0.1:9',
    '    routes: [{name: broken, paths: [/broken]}]',
    'consumers:',
    `  - {username: alice, keyauth_credentials: [{key: ${ALICE_KEY}}]}`,
  );
}

/** Sends raw bytes on a fresh connection and resolves with everything the gateway answered until it closed. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let out = '';
    socket.on('data', (d) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

let bench: ObservedBench;
let upstream: Upstream;
let gw: RunningGateway;

t.before(async () => {
  bench = await startObserved(config);
  ({ upstream, gw } = bench);
});
t.teardown(() => bench.close());

const lines = () => bench.lines();
const lineFor = (r: Reply) => waitFor(`the access line of ${r.headers['x-request-id']}`, () => lines().find((l) => l.request_id === r.headers['x-request-id']));
const metricsText = async () => {
  const r = await request(gw.adminPort!, '/metrics');
  if (r.status !== 200 || !r.headers['content-type']?.startsWith('text/plain; version=0.0.4')) throw new Error(`GET /metrics: ${r.status}`);
  return r.body;
};
/** The value of one sample, or undefined. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

t.test('one access line per request, with the fields and reason of each outcome', async (t) => {
  const ok = await request(gw.proxyPort, '/open?x=1');
  t.equal(ok.status, 200);
  const okLine = await lineFor(ok);
  t.match(okLine, {
    time: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    request_id: /^[0-9a-f]{32}$/,
    client_ip: /127\.0\.0\.1$/,
    method: 'GET',
    path: '/open?x=1',
    status: 200,
    route: 'open',
    service: 'up',
  });
  t.type(okLine.upstream_latency_ms, 'number');
  t.equal(okLine.latency_ms, okLine.upstream_latency_ms + okLine.gateway_latency_ms, 'total = upstream + gateway');
  t.ok(okLine.bytes_in > 0 && okLine.bytes_out > ok.body.length, 'bytes in and out, headers included');
  t.notOk('reason' in okLine || 'consumer' in okLine, 'an allowed anonymous request has no reason and no consumer');
  t.same(Object.keys(okLine), [
    'time',
    'request_id',
    'client_ip',
    'method',
    'path',
    'status',
    'latency_ms',
    'upstream_latency_ms',
    'gateway_latency_ms',
    'bytes_in',
    'bytes_out',
    'route',
    'service',
  ]);

  const outcomes: Array<[string, Reply, number, string | undefined, Record<string, unknown>]> = [
    ['no key', await request(gw.proxyPort, '/keyed'), 401, 'no credentials', { route: 'keyed' }],
    ['a wrong key', await request(gw.proxyPort, '/keyed?apikey=wrong-key-9876&y=2'), 401, 'bad credentials', { path: '/keyed?apikey=[REDACTED]&y=2' }],
    ['a good key', await request(gw.proxyPort, '/keyed', { headers: { apikey: ALICE_KEY } }), 200, undefined, { consumer: 'alice' }],
    ['acl', await request(gw.proxyPort, '/admins', { headers: { apikey: ALICE_KEY } }), 403, 'acl', { consumer: 'alice' }],
    ['under the limit', await request(gw.proxyPort, '/limited'), 200, undefined, { route: 'limited' }],
    ['over the limit', await request(gw.proxyPort, '/limited'), 429, 'rate limit', { route: 'limited' }],
    ['termination', await request(gw.proxyPort, '/teapot'), 418, 'termination', { route: 'teapot' }],
    ['no route', await request(gw.proxyPort, '/nothing?apikey=not-a-route-key'), 404, 'no route', { path: '/nothing?apikey=[REDACTED]' }],
    ['refused upstream', await request(gw.proxyPort, '/broken'), 502, 'upstream error', { route: 'broken', service: 'down' }],
  ];
  for (const [what, reply, status, reason, fields] of outcomes) {
    t.equal(reply.status, status, what);
    const line = await lineFor(reply);
    t.equal(line.status, status, `${what}: status`);
    t.equal(line.reason, reason, `${what}: reason`);
    t.match(line, fields, what);
    if (status >= 400 && reply.headers['content-type']?.startsWith('application/json')) {
      t.equal(reply.json().request_id, line.request_id, `${what}: the error body carries the logged id`);
    }
  }
  const noRoute = await lineFor(outcomes[7][1]);
  t.notOk('route' in noRoute || 'service' in noRoute, 'no route: no route or service field');
  t.type((await lineFor(outcomes[8][1])).upstream_latency_ms, 'number', 'a failed upstream attempt still has its latency');

  // An absolute-form target is logged without its scheme and authority, which may hold credentials.
  const absolute = await request(gw.proxyPort, 'http://user:hunter2@example.test/open');
  t.equal(absolute.status, 200);
  t.match(await lineFor(absolute), { status: 200, path: '/open', route: 'open' });
  // Requests that never reach a route: a path the gateway cannot use (400) and a request the HTTP parser refuses.
  const badTarget = await request(gw.proxyPort, '/a%00b');
  t.equal(badTarget.status, 400);
  t.match(await lineFor(badTarget), { status: 400, reason: 'bad request', path: '/a%00b' });
  const garbage = await raw(gw.proxyPort, 'NOT HTTP AT ALL\r\n\r\n');
  t.match(garbage, /^HTTP\/1\.1 400 /);
  const garbageBody = JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4));
  t.match(garbageBody, { message: 'Bad request', request_id: /^[0-9a-f]{32}$/ });
  t.match(await waitFor('the parser error line', () => lines().find((l) => l.request_id === garbageBody.request_id)), { status: 400, reason: 'bad request' });
});

t.test('/metrics: Kong’s names and labels for the same requests, plus the gateway’s own', async (t) => {
  await waitFor('every request to be logged', () => (lines().length === 13 ? true : undefined));
  const m = await metricsText();
  const requests = (route: string, service: string, code: number, source: string) =>
    sample(m, `kong_http_requests_total{service="${service}",route="${route}",code="${code}",source="${source}",consumer=""}`);
  t.equal(requests('open', 'up', 200, 'service'), 2);
  t.equal(requests('keyed', 'up', 401, 'kong'), 2);
  t.equal(requests('keyed', 'up', 200, 'service'), 1);
  t.equal(requests('admins', 'up', 403, 'kong'), 1);
  t.equal(requests('limited', 'up', 200, 'service'), 1);
  t.equal(requests('limited', 'up', 429, 'kong'), 1);
  t.equal(requests('teapot', 'up', 418, 'kong'), 1);
  t.equal(requests('broken', 'down', 502, 'kong'), 1);
  t.equal(requests('', '', 404, 'kong'), 1, 'no route: empty service and route labels');
  t.equal(requests('', '', 400, 'kong'), 2, 'both unusable requests');

  t.equal(sample(m, 'kong_request_latency_ms_count{service="up",route="open"}'), 2);
  t.match(m, /^kong_request_latency_ms_bucket\{le="25",service="up",route="open"\} \d+$/m, "Kong's upstream buckets");
  t.match(m, /^kong_kong_latency_ms_bucket\{le="7",service="up",route="keyed"\} \d+$/m, "Kong's gateway buckets");
  t.equal(sample(m, 'kong_kong_latency_ms_count{service="up",route="keyed"}'), 3);
  t.equal(sample(m, 'kong_upstream_latency_ms_count{service="up",route="keyed"}'), 1, 'only proxied requests have an upstream latency');
  t.equal(sample(m, 'kong_upstream_latency_ms_count{service="down",route="broken"}'), 1);
  t.ok(sample(m, 'kong_bandwidth_bytes{service="up",route="open",direction="ingress",consumer=""}')! > 0);
  t.ok(sample(m, 'kong_bandwidth_bytes{service="up",route="open",direction="egress",consumer=""}')! > 0);

  t.equal(sample(m, 'gateway_auth_failures_total{plugin="key-auth",reason="no credentials"}'), 1);
  t.equal(sample(m, 'gateway_auth_failures_total{plugin="key-auth",reason="bad credentials"}'), 1);
  t.equal(sample(m, 'gateway_auth_failures_total{plugin="acl",reason="acl"}'), 1);
  t.equal(sample(m, 'gateway_rate_limit_rejections_total{service="up",route="limited"}'), 1);

  const status = (await request(gw.adminPort!, '/status')).json();
  t.equal(sample(m, `gateway_config_info{configuration_hash="${status.configuration_hash}"}`), 1);
  t.match(m, /^kong_node_info\{node_id="[0-9a-f-]{36}",version="\d+\.\d+\.\d+"\} 1$/m);
  t.equal(sample(m, 'kong_nginx_requests_total{node_id="' + /node_id="([^"]+)"/.exec(m)![1] + '",subsystem="http"}'), 12, 'every request but the one the parser refused');
  t.match(m, /^kong_nginx_connections_total\{node_id="[^"]+",subsystem="http",state="active"\} \d+$/m);
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
    t.match(m, new RegExp(`^${name} `, 'm'), `process default metric ${name}`);
  }
});

t.test('config reloads are counted by source and result, and the hash follows the live config', async (t) => {
  const before = (await request(gw.adminPort!, '/status')).json().configuration_hash;
  writeFileSync(gw.configFile, 'services: [oops');
  await waitFor('the rejected edit', async () => (sample(await metricsText(), 'gateway_config_reloads_total{source="file",result="rejected"}') === 1 ? true : undefined));
  const edited = config(upstream.port).replace('{name: open, paths: [/open]}', '{name: open, paths: [/open, /also-open]}');
  writeFileSync(gw.configFile, edited);
  await waitFor('the accepted edit', async () => (sample(await metricsText(), 'gateway_config_reloads_total{source="file",result="accepted"}') === 1 ? true : undefined));
  const m = await metricsText();
  const after = (await request(gw.adminPort!, '/status')).json().configuration_hash;
  t.not(after, before);
  t.equal(sample(m, `gateway_config_info{configuration_hash="${after}"}`), 1);
  t.notMatch(m, new RegExp(`configuration_hash="${before}"`), 'only the live hash is shown');
  t.equal(sample(m, 'kong_http_requests_total{service="up",route="open",code="200",source="service",consumer=""}'), 2, 'counters survive a reload');
});
