import t from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { runCli, startGateway, tempFile, type RunningGateway } from '../helpers/cli';
import { errorsOf } from '../helpers/config';
import { deadPort } from '../helpers/raw';
import { waitFor } from '../helpers/wait';

// Cases after Kong's spec/03-plugins/03-http-log/01-log_spec.lua and 02-schema_spec.lua.
const SPEC = 'spec/03-plugins/03-http-log/01-log_spec.lua';
const SCHEMA_SPEC = 'spec/03-plugins/03-http-log/02-schema_spec.lua';

let gw: RunningGateway;
let upstream: Upstream;
let collector: Upstream;
/** Answers 500 to the first two deliveries of each path under /flaky, then 200. */
let flaky: Upstream;
const flakyTries = new Map<string, number>();
let dead: number;
/** Holds every delivery unanswered until released. */
let stuck: Upstream;
const held: Array<() => void> = [];

/** The entries the collector received on `path`, each request's body parsed. */
const received = (c: Upstream, path: string) => c.seen.filter((s) => s.url === path).map((s) => JSON.parse(s.body));

t.before(async () => {
  upstream = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': ['session=upstream-secret; Path=/; HttpOnly'] });
    res.end('ok');
  });
  collector = await startUpstream((_req, res) => res.end());
  flaky = await startUpstream((req, res) => {
    const n = (flakyTries.get(req.url!) ?? 0) + 1;
    flakyTries.set(req.url!, n);
    res.statusCode = n <= 2 ? 500 : 200;
    res.end();
  });
  stuck = await startUpstream((_req, res) => held.push(() => res.end()));
  dead = await deadPort();
  const log = (path: string, config: object = {}, base = collector.port) => ({
    name: 'http-log',
    config: { http_endpoint: `http://127.0.0.1:${base}${path}`, ...config },
  });
  const route = (name: string, plugins: object[]) => ({ name, hosts: [`${name}.test`], service: 'echo', plugins });
  gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      services: [{ name: 'echo', url: `http://127.0.0.1:${upstream.port}` }],
      routes: [
        route('plain', [log('/plain')]),
        route('utf8', [log('/utf8', { content_type: 'application/json; charset=utf-8', method: 'PUT' })]),
        route('userinfo', [
          { name: 'http-log', config: { http_endpoint: `http://collector-user:collector-pass@127.0.0.1:${collector.port}/userinfo`, headers: { 'X-Token': 'abc' } } },
        ]),
        route('keyed', [log('/keyed'), { name: 'key-auth' }]),
        route('batched', [log('/batched', { queue: { max_batch_size: 3, max_coalescing_delay: 3600 } })]),
        route('down', [{ name: 'http-log', config: { http_endpoint: `http://someone:hunter2@127.0.0.1:${dead}/down`, queue: { max_retry_time: 0 } } }]),
        route('flaky', [log('/flaky', { queue: { initial_retry_delay: 0.01 } }, flaky.port)]),
        route('stuck', [log('/stuck', { timeout: 60000, queue: { max_entries: 2 } }, stuck.port)]),
        route('at-stop', [log('/at-stop', { queue: { max_batch_size: 100, max_coalescing_delay: 3600 } })]),
        route('correlated', [log('/correlated'), { name: 'correlation-id', config: { header_name: 'X-Correlation' } }]),
        route('terminated', [log('/terminated'), { name: 'request-termination', config: { status_code: 403, message: 'no' } }]),
      ],
      consumers: [{ username: 'alice', custom_id: 'a-1', keyauth_credentials: [{ key: 'alice-secret-key' }] }],
      plugins: [log('/global')],
    }),
  );
});
t.teardown(async () => {
  if (gw.proc.exitCode === null) await gw.stop();
  await Promise.all([upstream.close(), collector.close(), flaky.close(), stuck.close()]);
});

t.test(`${SPEC}: logs to HTTP`, async (t) => {
  const res = await request(gw.proxyPort, '/status/200?a=1&a=2&flag', { headers: { host: 'plain.test', 'x-custom': 'shown' } });
  t.equal(res.status, 200);
  const [entry] = await waitFor('the entry', () => received(collector, '/plain')[0] && received(collector, '/plain'));
  const seen = collector.seen.find((s) => s.url === '/plain')!;
  t.equal(seen.method, 'POST');
  t.equal(seen.headers['content-type'], 'application/json');
  t.equal(entry.request.method, 'GET');
  t.equal(entry.request.uri, '/status/200?a=1&a=2&flag');
  t.equal(entry.request.url, `http://plain.test:${gw.proxyPort}/status/200?a=1&a=2&flag`);
  t.same(entry.request.querystring, { a: ['1', '2'], flag: true });
  t.equal(entry.request.headers['x-custom'], 'shown');
  t.ok(entry.request.size > 0);
  t.equal(entry.response.status, 200);
  t.equal(entry.response.headers['content-type'], 'text/plain');
  t.ok(entry.response.size > 0);
  t.equal(entry.route.name, 'plain');
  t.equal(entry.service.name, 'echo');
  t.same(entry.route.service, { id: entry.service.id }, 'the route names its service by id, as Kong serializes it');
  t.equal(entry.client_ip, '127.0.0.1');
  t.equal(entry.upstream_uri, '/status/200?a=1&a=2&flag');
  t.equal(entry.source, 'upstream');
  t.same(entry.tries, [{ ip: '127.0.0.1', port: upstream.port }]);
  t.equal(typeof entry.started_at, 'number');
  for (const k of ['kong', 'proxy', 'request', 'receive']) t.equal(typeof entry.latencies[k], 'number', `latencies.${k}`);
  t.ok(entry.latencies.proxy >= 0, 'an upstream answered: proxy latency measured');
  t.ok(entry.latencies.request >= entry.latencies.proxy);
  t.equal(entry.workspace_name, 'default');
  t.equal(entry.consumer, undefined);
  t.equal(entry.upstream_status, '200', "kong/pdk/log.lua: upstream_status, nginx's $upstream_status (a string)");
  t.notOk('tls' in entry.request, 'request.tls only on a TLS connection');
  t.notOk('trace_id' in entry, 'trace_id only when a tracing plugin ran');
  t.notOk('correlation_id' in entry, 'correlation_id only when correlation-id ran');
});

t.test('kong/plugins/correlation-id/handler.lua: the entry carries correlation_id, the generated id or the one the client sent', async (t) => {
  await request(gw.proxyPort, '/', { headers: { host: 'correlated.test' } });
  await request(gw.proxyPort, '/', { headers: { host: 'correlated.test', 'x-correlation': 'from-the-client' } });
  const entries = await waitFor('two entries', () => (received(collector, '/correlated').length === 2 ? received(collector, '/correlated') : undefined));
  const ids = entries.map((e) => e.correlation_id);
  t.ok(ids.includes('from-the-client'));
  t.ok(ids.some((id) => /^[0-9a-f-]{36}#\d+$/.test(id)), 'a generated one (uuid#counter, the default)');
});

t.test(`${SPEC}: logs to HTTP with content-type 'application/json; charset=utf-8'`, async (t) => {
  await request(gw.proxyPort, '/', { headers: { host: 'utf8.test' } });
  const seen = await waitFor('the entry', () => collector.seen.find((s) => s.url === '/utf8'));
  t.equal(seen.method, 'PUT');
  t.equal(seen.headers['content-type'], 'application/json; charset=utf-8');
});

t.test(`${SPEC}: adds authorization if userinfo and/or header is present`, async (t) => {
  await request(gw.proxyPort, '/', { headers: { host: 'userinfo.test' } });
  const seen = await waitFor('the entry', () => collector.seen.find((s) => s.url === '/userinfo'));
  t.equal(seen.headers.authorization, `Basic ${Buffer.from('collector-user:collector-pass').toString('base64')}`);
  t.equal(seen.headers['x-token'], 'abc');
  t.equal(seen.headers.host, `127.0.0.1:${collector.port}`, 'http client implicitly adds Host header');
  const plugins = await request(gw.adminPort!, '/plugins');
  t.equal(plugins.status, 200);
  t.notOk(plugins.body.includes('collector-pass'), 'the Admin API masks the password of http_endpoint');
  t.ok(plugins.body.includes('http://collector-user:…@127.0.0.1'));
});

t.test('credentials, passwords and cookies never reach the entry; the rest is kept', async (t) => {
  const res = await request(gw.proxyPort, '/x?apikey=alice-secret-key&password=pw-value&page=2', {
    headers: { host: 'keyed.test', authorization: 'Bearer token-value', 'proxy-authorization': 'Basic cHJveHk=', cookie: 'sid=cookie-value; theme=dark' },
  });
  t.equal(res.status, 200);
  const seen = await waitFor('the entry', () => collector.seen.find((s) => s.url === '/keyed'));
  for (const secret of ['alice-secret-key', 'pw-value', 'token-value', 'cHJveHk=', 'cookie-value', 'dark', 'upstream-secret']) {
    t.notOk(seen.body.includes(secret), `${secret} is not in the entry`);
  }
  const entry = JSON.parse(seen.body);
  t.equal(entry.request.headers.authorization, 'REDACTED');
  t.equal(entry.request.headers['proxy-authorization'], 'REDACTED');
  t.equal(entry.request.headers.cookie, 'sid=REDACTED; theme=REDACTED');
  t.same(entry.request.querystring, { apikey: 'REDACTED', password: 'REDACTED', page: '2' });
  t.equal(entry.request.uri, '/x?apikey=[REDACTED]&password=[REDACTED]&page=2');
  t.same(entry.response.headers['set-cookie'], ['session=REDACTED']);
  t.equal(entry.consumer.username, 'alice');
  t.same(entry.authenticated_entity, { id: entry.authenticated_entity.id, consumer_id: entry.consumer.id });
  t.equal(typeof entry.authenticated_entity.id, 'string');
});

t.test('key-auth key in a header is redacted', async (t) => {
  const before = collector.seen.filter((s) => s.url === '/keyed').length;
  await request(gw.proxyPort, '/', { headers: { host: 'keyed.test', apikey: 'alice-secret-key' } });
  const seen = await waitFor('the entry', () => collector.seen.filter((s) => s.url === '/keyed')[before]);
  t.notOk(seen.body.includes('alice-secret-key'));
  t.equal(JSON.parse(seen.body).request.headers.apikey, 'REDACTED');
});

t.test(`${SPEC}: logs to HTTP with a buffer (max_batch_size entries as one JSON array)`, async (t) => {
  for (let i = 0; i < 3; i++) await request(gw.proxyPort, `/${i}`, { headers: { host: 'batched.test' } });
  const seen = await waitFor('the batch', () => collector.seen.find((s) => s.url === '/batched'));
  const batch = JSON.parse(seen.body);
  t.ok(Array.isArray(batch));
  t.same(
    batch.map((e: any) => e.request.uri),
    ['/0', '/1', '/2'],
  );
});

t.test(`a gateway-made answer is logged (source kong, no upstream)`, async (t) => {
  const res = await request(gw.proxyPort, '/', { headers: { host: 'terminated.test' } });
  t.equal(res.status, 403);
  const [entry] = await waitFor('the entry', () => received(collector, '/terminated')[0] && received(collector, '/terminated'));
  t.equal(entry.response.status, 403);
  t.equal(entry.source, 'kong');
  t.equal(entry.latencies.proxy, -1);
  t.equal(entry.upstream_uri, '');
  t.same(entry.tries, []);
  t.equal(entry.upstream_status, '', 'no upstream answered');
});

t.test(`${SPEC}: executes successfully when route does not exist (global plugins log it)`, async (t) => {
  const res = await request(gw.proxyPort, '/nonexistant/proxy/path', { headers: { host: 'http_no_exist.test' } });
  t.equal(res.status, 404);
  const entry = await waitFor('the entry', () => received(collector, '/global').find((e) => e.response.status === 404));
  t.equal(entry.client_ip, '127.0.0.1');
  t.equal(entry.request.uri, '/nonexistant/proxy/path');
  t.equal(entry.route, undefined);
  t.equal(entry.source, 'kong');
  t.notMatch(gw.logs(), /log phase failed/);
});

t.test('a failing collector is retried with backoff until it accepts', async (t) => {
  await request(gw.proxyPort, '/', { headers: { host: 'flaky.test' } });
  await waitFor('the third try', () => (flakyTries.get('/flaky') === 3 ? true : undefined));
  const bodies = flaky.seen.filter((s) => s.url === '/flaky').map((s) => s.body);
  t.equal(bodies.length, 3);
  t.equal(new Set(bodies).size, 1, 'the same entry each time');
});

t.test(`${SPEC}: gracefully handles layer 4 failures (and never logs the endpoint's userinfo)`, async (t) => {
  const res = await request(gw.proxyPort, '/', { headers: { host: 'down.test' } });
  t.equal(res.status, 200, 'the proxied request is not affected');
  await waitFor('the failure logged', () => (gw.logs().includes('queued entries dropped') ? true : undefined));
  t.match(gw.logs(), /failed request to http:\/\/127\.0\.0\.1:\d+\/down/);
  t.notOk(gw.logs().includes('hunter2'));
  t.notOk(gw.logs().includes('someone:'));
  const metrics = await request(gw.adminPort!, '/metrics');
  t.match(metrics.body, /gateway_log_entries_dropped_total\{plugin="http-log",reason="retries exhausted"\} 1/);
});

t.test('a collector that does not answer never holds a request; what waits for it is bounded by max_entries', async (t) => {
  for (let i = 0; i < 5; i++) t.equal((await request(gw.proxyPort, `/${i}`, { headers: { host: 'stuck.test' } })).status, 200);
  await waitFor('the first delivery', () => stuck.seen.find((s) => s.url === '/stuck'));
  const metrics = await request(gw.adminPort!, '/metrics');
  t.match(metrics.body, /gateway_log_entries_dropped_total\{plugin="http-log",reason="queue full"\} 2/, 'one in flight, two waiting, two dropped');
  await waitFor('the drop logged', () => (gw.logs().includes('"reason":"queue full"') ? true : undefined));
  // Answered from now on: the two entries kept follow, one delivery at a time.
  await waitFor('the two kept', () => {
    held.splice(0).forEach((release) => release());
    return stuck.seen.length === 3 ? true : undefined;
  });
  held.splice(0).forEach((release) => release());
  const uris = stuck.seen.map((s) => JSON.parse(s.body).request.uri);
  t.same(uris, ['/0', '/3', '/4'], 'the oldest waiting entries were dropped');
});

t.test('what is queued at SIGTERM is sent before the process exits', async (t) => {
  for (let i = 0; i < 2; i++) await request(gw.proxyPort, `/${i}`, { headers: { host: 'at-stop.test' } });
  t.equal(collector.seen.filter((s) => s.url === '/at-stop').length, 0, 'held by the coalescing delay');
  t.equal(await gw.stop(), 0);
  const seen = collector.seen.filter((s) => s.url === '/at-stop');
  t.equal(seen.length, 1);
  t.equal(JSON.parse(seen[0].body).length, 2);
});

const config = (pluginConfig: object) =>
  JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'http-log', config: { http_endpoint: 'http://127.0.0.1:1/x', ...pluginConfig } }] });

t.test(`${SCHEMA_SPEC}: refuses Host, Content-Type and Content-Length headers, and userinfo with an Authorization header`, async (t) => {
  t.match(errorsOf(config({ headers: { Host: 'x' } })), [/plugins\[0\]\.config\.headers\.Host: cannot contain 'Host' header/]);
  t.match(errorsOf(config({ headers: { 'content-type': 'x' } })), [/cannot contain 'Content-Type' header/]);
  t.match(errorsOf(config({ headers: { 'Content-Length': '1' } })), [/cannot contain 'Content-Length' header/]);
  t.match(errorsOf(config({ http_endpoint: 'http://a:b@127.0.0.1/', headers: { authorization: 'x' } })), [
    /specifying both an 'Authorization' header and user info in 'http_endpoint' is not allowed/,
  ]);
  t.same(errorsOf(config({ headers: { 'X-Token': 'x' } })), []);
});

t.test(`${SCHEMA_SPEC}: queue bounds, method, endpoint, and custom_fields_by_lua refused as Lua`, async (t) => {
  t.match(errorsOf(config({ queue: { max_batch_size: 0 } })), [/queue\.max_batch_size: value should be between 1 and 1000000/]);
  t.match(errorsOf(config({ queue: { concurrency_limit: 2 } })), [/queue\.concurrency_limit: expected one of: -1, 1/]);
  t.match(errorsOf(config({ method: 'GET' })), [/config\.method: expected one of: POST, PUT, PATCH/]);
  t.match(errorsOf(config({ http_endpoint: 'not a url' })), [/config\.http_endpoint/]);
  t.match(errorsOf(config({ custom_fields_by_lua: { route: 'return nil' } })), [/config\.custom_fields_by_lua: Lua code is not supported/]);
  t.same(errorsOf(config({ custom_fields_by_lua: {} })), []);
});

t.test('gateway explain shows the log plugins of the request, global, on a service, a route or a consumer', async (t) => {
  const file = tempFile(
    'kong.yml',
    JSON.stringify({
      _format_version: '3.0',
      plugins: [{ name: 'udp-log', config: { host: '127.0.0.1', port: 5140 } }],
      consumers: [{ username: 'alice', keyauth_credentials: [{ key: 'alice-secret-key' }], plugins: [{ name: 'tcp-log', config: { host: '127.0.0.1', port: 5170 } }] }],
      services: [
        {
          name: 's',
          url: 'http://upstream.internal:8080',
          plugins: [{ name: 'file-log', config: { path: '/tmp/never-written.log' } }],
          routes: [{ name: 'r', paths: ['/'], plugins: [{ name: 'http-log', config: { http_endpoint: 'http://127.0.0.1:1/x' } }, { name: 'key-auth' }] }],
        },
      ],
    }),
  );
  const r = runCli(['explain', '-c', file, '--format', 'json', '-H', 'apikey: alice-secret-key', 'http://any/']);
  t.equal(r.status, 0, r.stderr);
  t.same(
    JSON.parse(r.stdout).plugins.map((p: { name: string; result: string }) => [p.name, p.result.replace(/ \(.*/, '')]),
    [
      ['key-auth', 'identified consumer alice'],
      ['http-log', 'logs the request'],
      ['file-log', 'logs the request'],
      ['udp-log', 'logs the request'],
      ['tcp-log', 'logs the request'],
    ],
  );
});
