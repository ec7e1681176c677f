import t from 'tap';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request, startUpstream, type Reply, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';

const ACCESS = 'spec/03-plugins/31-proxy-cache/02-access_spec.lua';
const API = 'spec/03-plugins/31-proxy-cache/03-api_spec.lua';

/** httpbin's endpoints the Kong specs call, as far as they use them. */
function httpbin(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const url = new URL(req.url!, 'http://upstream');
  const parts = url.pathname.split('/').filter(Boolean);
  const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'X-Upstream': 'yes', ...headers });
    res.end(JSON.stringify(value));
  };
  const echo = { url: req.url, method: req.method, body: body.toString('utf8'), at: process.hrtime.bigint().toString() };
  switch (parts[0]) {
    case 'cache':
      return json(200, echo, { 'Cache-Control': `public, max-age=${parts[1]}` });
    case 'response-headers':
      return json(200, echo, Object.fromEntries(url.searchParams));
    case 'status':
      res.writeHead(Number(parts[1]), { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(`status ${parts[1]} ${echo.at}`);
    case 'xml':
      res.writeHead(200, { 'Content-Type': 'application/xml' });
      return res.end(`<at>${echo.at}</at>`);
    case 'stream':
      res.writeHead(200, { 'Content-Type': 'application/json' });
      for (let i = 0; i < Number(parts[1]); i++) res.write(`${JSON.stringify({ id: i, at: echo.at })}\n`);
      return res.end();
    case 'big':
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return res.end(`${echo.at} `.padEnd(Number(url.searchParams.get('size')), 'x'));
    case 'ignore-case':
    case 'acknowledge-case':
      return json(404, echo);
    default:
      return json(200, echo);
  }
}

const pc = (config: string) => `[{name: proxy-cache, config: {strategy: memory, memory: {dictionary_name: kong}, ${config}}}]`;
const keyed = (config: string) => `[{name: key-auth}, {name: proxy-cache, config: {strategy: memory, ${config}}}]`;
const route = (name: string, plugins?: string) => [`      - name: ${name}`, `        paths: [/${name}]`, ...(plugins ? [`        plugins: ${plugins}`] : [])];
const TYPES = 'content_type: [text/plain, application/json]';

let upstream: Upstream;
let gw: RunningGateway;

t.before(async () => {
  upstream = await startUpstream(httpbin);
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: up',
      `    url: http://127.0.0.1:${upstream.port}`,
      '    routes:',
      ...route('r1', pc(TYPES)),
      ...route('r2', pc(TYPES)),
      ...route('r3'),
      ...route('r4'),
      ...route('r5', keyed(TYPES)),
      ...route('r7', pc(`${TYPES}, cache_control: true`)),
      ...route('r8', pc(`${TYPES}, cache_control: true, storage_ttl: 600`)),
      ...route('r10', pc('content_type: ["text/html; charset=utf-8", application/json], response_code: [200, 417], request_method: [GET, HEAD, POST]')),
      ...route('r11', pc(`${TYPES}, response_code: [200], request_method: [GET, HEAD, POST], vary_headers: [foo]`)),
      ...route('r12', pc(`${TYPES}, response_code: [200], request_method: [GET, HEAD, POST], vary_query_params: [foo]`)),
      ...route('r13', keyed(TYPES)),
      ...route('r14', keyed(TYPES)),
      ...route('r17', pc('content_type: ["*/*"]')),
      ...route('r18', pc('content_type: ["application/xml; charset=UTF-8"]')),
      ...route('r19', pc('content_type: ["application/xml;"]')),
      ...route('r20', pc(`${TYPES}, response_code: [404], ignore_uri_case: true`)),
      ...route('r21', pc(`${TYPES}, response_code: [404], ignore_uri_case: false`)),
      ...route('r22', pc(`${TYPES}, response_headers: {age: false, X-Cache-Status: false, X-Cache-Key: false}`)),
      ...route('r23', pc(`${TYPES}, response_headers: {age: true, X-Cache-Status: true, X-Cache-Key: true}`)),
      ...route('r24', pc(TYPES)),
      '  - name: other',
      `    url: http://127.0.0.1:${upstream.port}`,
      '    routes:',
      ...route('r16', keyed(TYPES)),
      'plugins:',
      `  - {name: proxy-cache, config: {strategy: memory, ${TYPES}}}`,
      'consumers:',
      '  - {username: bob, keyauth_credentials: [{key: bob}]}',
      '  - {username: alice, keyauth_credentials: [{key: alice}]}',
    ),
    { args: ['--access-log', 'off'] },
  );
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => request(gw.proxyPort, path, { method, headers });
const admin = (path: string, method = 'GET') => request(gw.adminPort!, path, { method });
const cacheStatus = (r: Reply) => r.headers['x-cache-status'];
/** How many requests reached the upstream for this path (query included). */
const reached = (url: string) => upstream.seen.filter((s) => s.url === url).length;

t.test(`${ACCESS}: caches a simple request`, async (t) => {
  const first = await get('/r1/get');
  t.equal(first.status, 200);
  t.equal(cacheStatus(first), 'Miss');
  const key = first.headers['x-cache-key'] as string;
  t.match(key, /^[0-9a-f]{64}$/);
  const second = await get('/r1/get');
  t.equal(second.status, 200);
  t.equal(cacheStatus(second), 'Hit');
  t.equal(second.headers['x-cache-key'], key);
  t.equal(second.body, first.body);
  t.equal(reached('/get'), 1, 'the hit never reached the upstream');
  t.equal(second.headers['content-type'], 'application/json', "the upstream's headers are replayed");
  t.equal(second.headers['x-upstream'], 'yes');
  t.match(second.headers.age, /^\d+$/);
  t.notOk(second.headers['transfer-encoding']);
  t.equal(second.headers['content-length'], String(Buffer.byteLength(second.body)));
});

t.test("the key is Kong's: sha256 of route id, method and request line", async (t) => {
  const routeId = (await admin('/routes/r24')).json().id;
  const miss = await get('/r24/get');
  t.equal(miss.headers['x-cache-key'], createHash('sha256').update(`${routeId}|GET|GET /r24/get HTTP/1.1||`).digest('hex'));
  const withQuery = await get('/r24/get?b=2&a=1');
  t.equal(withQuery.headers['x-cache-key'], createHash('sha256').update(`${routeId}|GET|GET /r24/get|a=1:b=2|`).digest('hex'));
});

t.test(`${ACCESS}: No X-Cache* neither age headers on the response without debug header in the query`, async (t) => {
  const miss = await get('/r22/quiet');
  t.equal(miss.status, 200);
  t.equal(cacheStatus(miss), undefined);
  t.equal(miss.headers['x-cache-key'], undefined);
  const hit = await get('/r22/quiet');
  t.equal(cacheStatus(hit), undefined);
  t.equal(hit.headers['x-cache-key'], undefined);
  t.equal(hit.headers.age, undefined);
  t.equal(reached('/quiet'), 1, 'it was a hit all the same');
  const debug = await get('/r22/quiet', { 'kong-debug': '1' });
  t.equal(cacheStatus(debug), 'Hit');
  t.ok(debug.headers.age);
  t.ok(debug.headers['x-cache-key']);
});

t.test(`${ACCESS}: response_headers headers on the response when configured, and by default`, async (t) => {
  for (const r of ['/r23/get', '/r24/other']) {
    const miss = await get(r);
    t.equal(cacheStatus(miss), 'Miss');
    t.ok(miss.headers['x-cache-key']);
    t.equal(miss.headers.age, undefined, 'no Age on a miss');
    const hit = await get(r);
    t.equal(cacheStatus(hit), 'Hit');
    t.ok(hit.headers.age);
    t.ok(hit.headers['x-cache-key']);
  }
});

t.test(`${ACCESS}: respects cache ttl via cache control (max-age 0 is not cacheable)`, async (t) => {
  t.equal(cacheStatus(await get('/r7/cache/2')), 'Miss');
  t.equal(cacheStatus(await get('/r7/cache/2')), 'Hit');
  t.equal(cacheStatus(await get('/r7/cache/0')), 'Bypass');
  t.equal(cacheStatus(await get('/r7/cache/0')), 'Bypass');
  t.equal(reached('/cache/0'), 2);
});

t.test(`${ACCESS}: a response says how long it may be kept: max-age, s-maxage, Expires`, async (t) => {
  t.equal(cacheStatus(await get('/r7/response-headers?Cache-Control=max-age%3D604800')), 'Miss', 'public not present, but max-age is');
  t.equal(cacheStatus(await get('/r7/response-headers?Cache-Control=s-maxage%3D604800')), 'Miss', 's-maxage only');
  const expires = encodeURIComponent(new Date(Date.now() + 5_000_000).toUTCString());
  t.equal(cacheStatus(await get(`/r7/response-headers?Expires=${expires}`)), 'Miss', 'Expires present, Cache-Control absent');
  t.equal(cacheStatus(await get(`/r7/response-headers?Expires=${expires}`)), 'Hit');
  t.equal(cacheStatus(await get('/r7/response-headers?none')), 'Bypass', 'nothing says how long');
  for (const cc of ['private, max-age=60', 'no-store, max-age=60', 'no-cache, max-age=60']) {
    t.equal(cacheStatus(await get(`/r7/response-headers?Cache-Control=${encodeURIComponent(cc)}`)), 'Bypass', cc);
  }
  t.equal(cacheStatus(await get('/r1/response-headers?Cache-Control=no-store')), 'Miss', 'without cache_control it is not read');
});

t.test(`${ACCESS}: respects cache-control on the request`, async (t) => {
  await get('/r7/cache/2');
  t.equal(cacheStatus(await get('/r7/cache/2', { 'Cache-Control': 'min-fresh=30' })), 'Refresh', 'min-fresh');
  t.equal(cacheStatus(await get('/r7/cache/10', { 'Cache-Control': 'max-age=2' })), 'Miss', 'max-age');
  t.equal(cacheStatus(await get('/r7/cache/10', { 'Cache-Control': 'max-age=2' })), 'Hit');
  t.equal(cacheStatus(await get('/r7/cache/10', { 'Cache-Control': 'no-store' })), 'Bypass', 'no-store');
  t.equal(cacheStatus(await get('/r7/cache/10', { 'Cache-Control': 'no-cache' })), 'Bypass', 'no-cache');
  t.equal(cacheStatus(await get('/r7/cache/10', { Authorization: 'Bearer x' })), 'Bypass', 'a request with credentials');
  t.equal(cacheStatus(await get('/r1/get', { 'Cache-Control': 'no-store' })), 'Hit', 'without cache_control it is not read');
});

t.test(`${ACCESS}: only-if-cached`, async (t) => {
  const before = upstream.seen.length;
  const r = await get('/r8/get?not=here', { 'Cache-Control': 'only-if-cached' });
  t.equal(r.status, 504);
  t.equal(r.body, '');
  t.match(r.headers['x-cache-key'], /^[0-9a-f]{64}$/);
  t.equal(upstream.seen.length, before, 'the upstream is not asked');
  t.equal(cacheStatus(await get('/r8/cache/60')), 'Miss');
  t.equal(cacheStatus(await get('/r8/cache/60', { 'Cache-Control': 'only-if-cached' })), 'Hit', 'a cached entry is served');
});

t.test(`${ACCESS}: caches a streaming request`, async (t) => {
  const first = await get('/r1/stream/3');
  t.equal(first.status, 200);
  t.equal(cacheStatus(first), 'Miss');
  t.equal(first.body.split('\n').length, 4);
  const second = await get('/r1/stream/3');
  t.equal(cacheStatus(second), 'Hit');
  t.equal(second.body, first.body);
});

t.test(`${ACCESS}: uses a separate cache key for the same consumer between routes, and between services`, async (t) => {
  const k13 = (await get('/r13/get', { apikey: 'bob' })).headers['x-cache-key'];
  const k14 = (await get('/r14/get', { apikey: 'bob' })).headers['x-cache-key'];
  const k16 = (await get('/r16/get', { apikey: 'bob' })).headers['x-cache-key'];
  t.ok(k13);
  t.not(k13, k14);
  t.not(k13, k16);
});

t.test(`${ACCESS}: uses a separate cache key between routes-specific and a global plugin`, async (t) => {
  const three = await get('/r3/get');
  t.equal(cacheStatus(three), 'Miss');
  const four = await get('/r4/get');
  t.equal(cacheStatus(four), 'Miss');
  t.not(three.headers['x-cache-key'], four.headers['x-cache-key']);
  t.equal(cacheStatus(await get('/r4/get')), 'Hit');
});

t.test(`${ACCESS}: differentiates caches between instances`, async (t) => {
  const miss = await get('/r2/get');
  t.equal(cacheStatus(miss), 'Miss');
  const hit = await get('/r2/get');
  t.equal(cacheStatus(hit), 'Hit');
  t.equal(hit.headers['x-cache-key'], miss.headers['x-cache-key']);
});

t.test(`${ACCESS}: uses request params as part of the cache key`, async (t) => {
  t.equal(cacheStatus(await get('/r1/get?a=b&b=c')), 'Miss');
  t.equal(cacheStatus(await get('/r1/get?a=c')), 'Miss');
  t.equal(cacheStatus(await get('/r1/get?b=c&a=b')), 'Hit');
  t.equal(cacheStatus(await get('/r1/get?a&b')), 'Miss');
  t.equal(cacheStatus(await get('/r1/get?a&b')), 'Hit');
});

t.test(`${ACCESS}: can focus only in a subset of the query arguments`, async (t) => {
  t.equal(cacheStatus(await get('/r12/get?foo=b&b=c')), 'Miss');
  t.equal(cacheStatus(await get('/r12/get?b=d&foo=b')), 'Hit');
});

t.test(`${ACCESS}: uses headers if instructed to do so`, async (t) => {
  t.equal(cacheStatus(await get('/r11/get', { foo: 'bar' })), 'Miss');
  t.equal(cacheStatus(await get('/r11/get', { foo: 'bar' })), 'Hit');
  t.equal(cacheStatus(await get('/r11/get', { foo: 'baz' })), 'Miss');
  t.equal(cacheStatus(await get('/r11/get', { foo: 'bar', other: 'x' })), 'Hit', 'headers not in vary_headers are not in the key');
});

t.test(`${ACCESS}: handles authenticated routes`, async (t) => {
  const anonymous = await get('/r5/get');
  t.equal(anonymous.status, 401, 'by ignoring cache if the request is unauthenticated');
  t.equal(cacheStatus(anonymous), undefined);
  t.equal(cacheStatus(await get('/r5/get', { apikey: 'bob' })), 'Miss', 'by maintaining a separate cache per consumer');
  t.equal(cacheStatus(await get('/r5/get', { apikey: 'bob' })), 'Hit');
  const alice = await get('/r5/get', { apikey: 'alice' });
  t.equal(cacheStatus(alice), 'Miss', "bob's entry is never alice's");
  t.equal(cacheStatus(await get('/r5/get', { apikey: 'alice' })), 'Hit');
  t.equal(cacheStatus(await get('/r5/get', { apikey: 'nobody' })), undefined, 'a refused key never reaches the cache');
});

t.test(`${ACCESS}: bypasses cache for uncacheable requests and responses`, async (t) => {
  const post = await request(gw.proxyPort, '/r1/post', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"foo":"bar"}' });
  t.equal(post.status, 200);
  t.equal(cacheStatus(post), 'Bypass', 'request method');
  t.equal(post.headers['x-cache-key'], undefined, 'no key for a request that is not cacheable');
  const teapot = await get('/r1/status/418');
  t.equal(teapot.status, 418);
  t.equal(cacheStatus(teapot), 'Bypass', 'response status');
  t.ok(teapot.headers['x-cache-key'], 'the key is sent');
  t.equal(cacheStatus(await get('/r1/xml')), 'Bypass', 'response content type');
  t.equal(cacheStatus(await get('/r1/response-headers?Content-Type=application/json%3B%20charset%3Dutf-8')), 'Bypass', 'a parameter the config does not list');
});

t.test(`${ACCESS}: caches non-default request methods and response statuses`, async (t) => {
  const post = () => request(gw.proxyPort, '/r10/post', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"foo":"bar"}' });
  t.equal(cacheStatus(await post()), 'Miss');
  const hit = await post();
  t.equal(cacheStatus(hit), 'Hit');
  t.equal(hit.json().body, '{"foo":"bar"}');
  const first = await get('/r10/status/417');
  t.equal(first.status, 417);
  t.equal(cacheStatus(first), 'Miss');
  const second = await get('/r10/status/417');
  t.equal(second.status, 417);
  t.equal(cacheStatus(second), 'Hit');
});

t.test('HEAD answers are cached apart from GET', async (t) => {
  t.equal(cacheStatus(await get('/r1/head', {}, 'HEAD')), 'Miss');
  const hit = await get('/r1/head', {}, 'HEAD');
  t.equal(hit.status, 200);
  t.equal(cacheStatus(hit), 'Hit');
  t.equal(hit.body, '');
  t.equal(cacheStatus(await get('/r1/head')), 'Miss', 'GET has its own entry');
  t.equal(upstream.seen.filter((s) => s.url === '/head').length, 2);
});

t.test(`${ACCESS}: displays Kong core headers (X-Kong-Proxy-Latency, X-Kong-Upstream-Latency)`, async (t) => {
  for (const expected of ['Miss', 'Hit']) {
    const r = await get('/r1/get?show-me=latency');
    t.equal(cacheStatus(r), expected);
    t.match(r.headers['x-kong-proxy-latency'], /^\d+$/);
    t.match(r.headers['x-kong-upstream-latency'], /^\d+$/);
    t.match(r.headers['x-kong-request-id'], /^[0-9a-f]+$/);
  }
  const a = await get('/r1/get?show-me=latency');
  const b = await get('/r1/get?show-me=latency');
  t.not(a.headers['x-kong-request-id'], b.headers['x-kong-request-id'], "each hit has its own request id, never the stored one's");
});

t.test(`${ACCESS}: content-type`, async (t) => {
  const first = await get('/r17/xml');
  t.equal(first.headers['content-type'], 'application/xml');
  t.equal(cacheStatus(first), 'Miss', 'wildcard content_type(*/*)');
  const second = await get('/r17/xml');
  t.equal(second.headers['content-type'], 'application/xml');
  t.equal(cacheStatus(second), 'Hit');
  t.equal(cacheStatus(await get('/r18/xml')), 'Bypass', 'a parameter that does not match');
  const invalid = await get('/r18/response-headers?Content-Type=application/xml%3B');
  t.equal(invalid.status, 200);
  t.equal(invalid.headers['content-type'], 'application/xml;');
  t.equal(cacheStatus(invalid), 'Bypass', 'the upstream returns an invalid content type');
  const badConfig = await get('/r19/xml');
  t.equal(badConfig.status, 200);
  t.equal(cacheStatus(badConfig), 'Bypass', 'config.content_type has an invalid element');
});

t.test(`${ACCESS}: ignore uri case in cache_key`, async (t) => {
  const first = await get('/r20/ignore-case/kong');
  t.equal(first.status, 404);
  t.equal(cacheStatus(first), 'Miss');
  const second = await get('/r20/ignore-case/KONG');
  t.equal(second.status, 404);
  t.equal(cacheStatus(second), 'Hit');
  t.equal(second.headers['x-cache-key'], first.headers['x-cache-key']);
  t.equal(second.body, first.body);
});

t.test(`${ACCESS}: acknowledge uri case in cache_key`, async (t) => {
  const first = await get('/r21/acknowledge-case/kong');
  t.equal(cacheStatus(first), 'Miss');
  const second = await get('/r21/acknowledge-case/KONG');
  t.equal(cacheStatus(second), 'Miss');
  t.not(second.headers['x-cache-key'], first.headers['x-cache-key']);
});

const pluginOf = async (routeName: string) => (await admin(`/routes/${routeName}/plugins`)).json().data.find((p: { name: string }) => p.name === 'proxy-cache').id;

t.test(`${API}: delete a cache entry`, async (t) => {
  const plugin = await pluginOf('r23');
  const miss = await get('/r23/api', { 'kong-debug': '1' });
  t.equal(cacheStatus(miss), 'Miss');
  const key = miss.headers['x-cache-key'] as string;
  t.equal(cacheStatus(await get('/r23/api')), 'Hit');
  t.equal((await admin(`/proxy-cache/${plugin}/caches/${key}`, 'DELETE')).status, 204);
  t.equal(cacheStatus(await get('/r23/api')), 'Miss');
  t.equal((await admin(`/proxy-cache/${key}`, 'DELETE')).status, 204, 'directly, looking through every proxy-cache instance');
  t.equal(cacheStatus(await get('/r23/api')), 'Miss');
});

t.test(`${API}: purge all the cache entries`, async (t) => {
  await get('/r23/all');
  await get('/r24/all');
  t.equal(cacheStatus(await get('/r23/all')), 'Hit');
  t.equal(cacheStatus(await get('/r24/all')), 'Hit');
  const purge = await admin('/proxy-cache', 'DELETE');
  t.equal(purge.status, 204);
  t.equal(purge.body, '');
  t.equal(cacheStatus(await get('/r23/all')), 'Miss');
  t.equal(cacheStatus(await get('/r24/all')), 'Miss');
  t.equal(cacheStatus(await get('/r4/get')), 'Miss', 'the global instance too');
});

t.test(`${API}: delete a non-existing cache key, or a non-existing plugin's`, async (t) => {
  const plugin = await pluginOf('r23');
  t.equal((await admin('/proxy-cache', 'DELETE')).status, 204);
  t.equal((await admin(`/proxy-cache/${plugin}/caches/123`, 'DELETE')).status, 404);
  t.equal((await admin('/proxy-cache/123', 'DELETE')).status, 404);
  const routeId = (await admin('/routes/r23')).json().id;
  t.equal((await admin(`/proxy-cache/${routeId}/caches/123`, 'DELETE')).status, 404, 'a route id is no plugin');
  const keyAuth = (await admin('/routes/r5/plugins')).json().data.find((p: { name: string }) => p.name === 'key-auth').id;
  t.equal((await admin(`/proxy-cache/${keyAuth}/caches/123`, 'GET')).status, 404, 'nor is another plugin');
});

t.test(`${API}: get a non-existing and an existing cache entry`, async (t) => {
  const plugin = await pluginOf('r23');
  const key = (await get('/r23/view')).headers['x-cache-key'] as string;
  t.equal((await admin('/proxy-cache', 'DELETE')).status, 204);
  t.equal((await admin(`/proxy-cache/${plugin}/caches/${key}`)).status, 404);
  t.equal((await admin(`/proxy-cache/${key}`)).status, 404);
  const miss = await get('/r23/view', { 'kong-debug': '1' });
  for (const path of [`/proxy-cache/${plugin}/caches/${key}`, `/proxy-cache/${key}`]) {
    const r = await admin(path);
    t.equal(r.status, 200, path);
    const entry = r.json();
    t.equal(entry.headers['X-Cache-Key'], key);
    t.equal(entry.status, 200);
    t.equal(entry.body, miss.body);
    t.equal(entry.body_len, Buffer.byteLength(miss.body));
    t.equal(entry.ttl, 300);
    t.equal(entry.version, 1);
    t.match(entry.timestamp, Number);
  }
  const other = await pluginOf('r24');
  t.equal((await admin(`/proxy-cache/${other}/caches/${key}`)).status, 404, 'another instance does not hold it');
});
