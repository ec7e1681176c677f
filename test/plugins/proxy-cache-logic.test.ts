// The parts of proxy-cache that depend on time or on Kong's exact algorithms, tested with explicit clocks and inputs.
import t from 'tap';
import { createHash } from 'node:crypto';
import { cacheKey, headersKey, paramsKey, prefixOf, queryArgs, requestLine, varyHeader } from '../../src/plugins/proxy-cache/cache-key';
import { parseDirectives, resourceTtl } from '../../src/plugins/proxy-cache/cache-control';
import { mediaTypeMatches, parseMediaType } from '../../src/plugins/proxy-cache/media-type';
import { cacheUsage, MemoryCache, setCacheBudget, DEFAULT_CACHE_BYTES, type CachedResponse } from '../../src/plugins/proxy-cache/memory';
import { isStale, storageSeconds, type CompiledProxyCache } from '../../src/plugins/proxy-cache';

const KEY_SPEC = 'spec/03-plugins/31-proxy-cache/05-cache_key_spec.lua';
const ACCESS_SPEC = 'spec/03-plugins/31-proxy-cache/02-access_spec.lua';
const MIME_SPEC = 'spec/01-unit/26-mime-type_spec.lua';
const UTILS_SPEC = 'spec/01-unit/05-utils_spec.lua';

const args = (o: Record<string, string | true | Array<string | true>>) => new Map(Object.entries(o));

t.test(`${KEY_SPEC}: prefix_uuid`, async (t) => {
  t.equal(prefixOf('c1', 'r1'), 'c1:r1', 'a consumer on a route');
  t.not(prefixOf('c1', 'r1'), prefixOf('c1', 'r2'), 'distinct for a consumer on different routes');
  t.not(prefixOf('c1', 'r1'), prefixOf('c2', 'r1'), 'distinct for different consumers on a route');
  t.equal(prefixOf(undefined, 'r1'), 'r1', 'the route alone without a consumer');
  t.not(prefixOf(undefined, 'r1'), prefixOf('c1', 'r1'), 'consumer-specific on a route');
  t.equal(prefixOf(undefined, undefined), 'default');
  t.equal(prefixOf('c1', undefined), 'default', 'only a consumer');
});

t.test(`${KEY_SPEC}: params_key`, async (t) => {
  t.equal(paramsKey(args({ a: '1', b: '2' }), undefined), 'a=1:b=2', 'defaults to all');
  t.equal(paramsKey(args({}), undefined), '', 'an empty query');
  t.equal(paramsKey(args({}), ['a']), '', 'an empty query with vary_query_params');
  t.equal(paramsKey(args({ bzz: '2', azz: '1' }), undefined), 'azz=1:bzz=2', 'sorts the arguments');
  t.equal(paramsKey(args({ a: '1', b: '2' }), ['a']), 'a=1', 'only the params in vary');
  t.equal(paramsKey(args({ a: ['1', '2'] }), ['a']), 'a=1,2', 'several values of one name');
  t.equal(paramsKey(args({ a: ['2', '1'] }), ['a']), 'a=1,2', 'several values, sorted');
  t.equal(paramsKey(args({ a: ['1', '2'], b: '2' }), ['a', 'b', 'c']), 'a=1,2:b=2', 'params in vary but not in the request are left out');
  t.equal(paramsKey(args({ b: '1', a: '2' }), ['b', 'a']), 'b=1:a=2', 'vary_query_params keeps its own order');
  t.equal(paramsKey(args({ a: true, b: '' }), undefined), 'a:b=', 'a name without = is the name alone; with = and no value, name=');
});

t.test(`${KEY_SPEC}: headers_key`, async (t) => {
  const h = { a: '1', b: '2' };
  t.equal(headersKey(h, []), '', 'defaults to none');
  t.equal(headersKey(h, [varyHeader('a')]), 'a=1', 'only the headers in vary');
  t.equal(headersKey({ a: ['2', '1'] }, [varyHeader('a')]), 'a=1,2', 'several values, sorted');
  t.equal(headersKey({ a: ['1', '2'], b: '2' }, ['a', 'b', 'c'].map(varyHeader)), 'a=1,2:b=2', 'headers not sent are left out');
  t.equal(headersKey({ 'x-foo': 'v' }, [varyHeader('X_Foo')]), 'X_Foo=v', "the name as configured; read as Kong's headers table reads it");
});

t.test('the query as nginx reads it (ngx.req.get_uri_args)', async (t) => {
  t.same(queryArgs('a&b'), args({ a: true, b: true }));
  t.same(queryArgs('a=&b=c'), args({ a: '', b: 'c' }));
  t.same(queryArgs('a=1&a=2&a'), args({ a: ['1', '2', true] }));
  t.same(queryArgs('q=a+b%20c&%61=x'), args({ q: 'a b c', a: 'x' }), 'decoded, + as a space');
  t.same(queryArgs('bad=%zz%41&=x&&'), args({ bad: '%zzA' }), 'a malformed escape is kept; empty names are skipped');
  t.equal(queryArgs(Array.from({ length: 150 }, (_, i) => `p${i}=1`).join('&')).size, 100, "past nginx's 100 arguments nothing is read");
});

t.test("the uri: nginx's request line, cut at the query (Kong's quirk)", async (t) => {
  t.equal(requestLine('GET', '/a/B', '1.1', false), 'GET /a/B HTTP/1.1');
  t.equal(requestLine('GET', '/a/B?x=1', '1.1', false), 'GET /a/B');
  t.equal(requestLine('GET', '/a/B', '1.1', true), 'get /a/b http/1.1', 'ignore_uri_case lower-cases all of it');
});

t.test('the key is the SHA-256 of prefix|method|uri|params|headers, in hex', async (t) => {
  const key = cacheKey('r1', 'GET', 'GET /a', 'a=1', '');
  t.equal(key, createHash('sha256').update('r1|GET|GET /a|a=1|').digest('hex'));
  t.match(key, /^[0-9a-f]{64}$/);
});

t.test(`${MIME_SPEC}: parse_mime_type`, async (t) => {
  const parsed = (s: string) => {
    const m = parseMediaType(s);
    return m && { type: m.type, subtype: m.subtype, params: Object.fromEntries(m.params) };
  };
  t.same(parsed('application/json'), { type: 'application', subtype: 'json', params: {} });
  t.same(parsed('application/json; charset=UTF-8; key=Value; q=1'), { type: 'application', subtype: 'json', params: { charset: 'UTF-8', key: 'Value', q: '1' } });
  t.same(parsed('application/json ;  charset=UTF-8 ; key=Value'), { type: 'application', subtype: 'json', params: { charset: 'UTF-8', key: 'Value' } });
  t.same(parsed('application/json; charset="UTF-8"'), { type: 'application', subtype: 'json', params: { charset: 'UTF-8' } });
  t.same(parsed('Application/JSON; Charset=UTF-8; Key=Value'), { type: 'application', subtype: 'json', params: { charset: 'UTF-8', key: 'Value' } });
  t.same(parsed('*/*; charset=UTF-8; q=0.1'), { type: '*', subtype: '*', params: { charset: 'UTF-8', q: '0.1' } });
  t.same(parsed('application/*'), { type: 'application', subtype: '*', params: {} });
  t.same(parsed('*/text'), { type: '*', subtype: 'text', params: {} });
  t.same(parsed('*'), { type: '*', subtype: '*', params: {} });
  t.same(parsed('*; q=.2'), { type: '*', subtype: '*', params: { q: '.2' } });
  for (const bad of ['helloworld', ' ', 'application/json;', 'application/json ', 'application/xml; charset']) t.equal(parsed(bad), undefined, bad);
});

t.test(`${ACCESS_SPEC}: content types match exactly, * for any type or subtype`, async (t) => {
  const matches = (expected: string, actual: string) => mediaTypeMatches(parseMediaType(expected)!, parseMediaType(actual)!);
  t.ok(matches('application/json', 'application/json'));
  t.ok(matches('application/json', 'Application/JSON'), 'type and subtype without case');
  t.notOk(matches('application/json', 'application/json; charset=utf-8'), 'a parameter the config does not list');
  t.notOk(matches('application/xml; charset=UTF-8', 'application/xml'), 'a parameter the response does not have');
  t.notOk(matches('text/html; charset=utf-8', 'text/html; charset=UTF-8'), 'parameter values with case');
  t.ok(matches('text/html; charset=utf-8', 'text/html;charset=utf-8'));
  t.ok(matches('*/*', 'application/xml'), 'wildcard content_type(*/*)');
  t.ok(matches('application/*', 'application/xml'));
  t.notOk(matches('application/*', 'text/xml'));
});

t.test(`${UTILS_SPEC}: parse_directive_header and calculate_resource_ttl`, async (t) => {
  t.same([...parseDirectives(undefined)], []);
  t.same([...parseDirectives('')], []);
  t.same(Object.fromEntries(parseDirectives('cache-key=kong-cache,cache-age=300')), { 'cache-key': 'kong-cache', 'cache-age': 300 });
  t.same(Object.fromEntries(parseDirectives(['cache-age=300', 'cache-key=kong-cache'])), { 'cache-age': 300, 'cache-key': 'kong-cache' });
  t.same(Object.fromEntries(parseDirectives('No-Store, max-age=0,  private')), { 'no-store': true, 'max-age': 0, private: true });
  const now = Date.UTC(2026, 0, 1);
  t.equal(resourceTtl(parseDirectives('cache-key=kong-cache,max-age=300'), '60', now), 300, 'max-age');
  t.equal(resourceTtl(parseDirectives('max-age=300, s-maxage=310'), undefined, now), 310, 's-maxage wins');
  t.equal(resourceTtl(parseDirectives(undefined), new Date(now + 3_600_000).toUTCString(), now), 3600, 'Expires, without Cache-Control');
  t.equal(resourceTtl(parseDirectives(undefined), new Date(now - 3_600_000).toUTCString(), now), 0, 'an Expires in the past');
  t.equal(resourceTtl(parseDirectives(undefined), 'never', now), 0, 'an Expires that is no date');
  t.equal(resourceTtl(parseDirectives('public'), undefined, now), 0, 'nothing says how long');
  t.equal(resourceTtl(parseDirectives('max-age="60"'), undefined, now), 0, 'a max-age that is no number');
});

function entry(timestamp: number, ttl: number, bodyBytes = 10): CachedResponse {
  return { status: 200, headers: ['content-type', 'text/plain'], served: { 'content-type': 'text/plain' }, body: Buffer.alloc(bodyBytes), timestamp, ttl };
}

const conf = (over: Partial<CompiledProxyCache>) => ({ cacheTtl: 300, ...over }) as CompiledProxyCache;

t.test(`${ACCESS_SPEC}: respects cache ttl`, async (t) => {
  const t0 = Date.UTC(2026, 0, 1);
  // route-6: cache_ttl 2, stored for 2 s: gone after 3 s (a Miss).
  const route6 = new MemoryCache('kong');
  route6.store('k', entry(t0 / 1000, 2), 2, t0);
  t.ok(route6.fetch('k', t0 + 1000), 'a Hit within the ttl');
  t.equal(route6.fetch('k', t0 + 3000), undefined, 'a Miss after it');
  // route-9: cache_ttl 2, storage_ttl 60: still stored after 3 s, but stale (a Refresh).
  const route9 = new MemoryCache('kong');
  route9.store('k', entry(t0 / 1000, 2), 60, t0);
  const kept = route9.fetch('k', t0 + 3000)!;
  t.ok(kept, 'kept for storage_ttl');
  t.equal(isStale(kept, conf({ cacheTtl: 2 }), undefined, t0 / 1000 + 2), false, 'served while its age is within cache_ttl');
  t.equal(isStale(kept, conf({ cacheTtl: 2 }), undefined, t0 / 1000 + 3), true, 'a Refresh past it');
  route6.dispose();
  route9.dispose();
});

t.test('an entry is kept for storage_ttl, else its own lifetime under cache_control, else cache_ttl', async (t) => {
  t.equal(storageSeconds(conf({ cacheTtl: 2 }), 2), 2);
  t.equal(storageSeconds(conf({ cacheTtl: 2, storageTtl: 60 }), 2), 60);
  t.equal(storageSeconds(conf({ cacheControl: true }), 45), 45, "the response's max-age");
  t.equal(storageSeconds(conf({ cacheControl: true, storageTtl: 600 }), 2), 600, 'route-8: storage_ttl wins');
  t.equal(storageSeconds(conf({ storageTtl: 0 }), 2), 0, 'storage_ttl 0: until evicted');
});

t.test(`${ACCESS_SPEC}: respects cache-control (max-age, max-stale, min-fresh) on the request`, async (t) => {
  const cc = (s: string) => parseDirectives(s);
  const e = entry(1000, 2);
  const on = conf({ cacheControl: true });
  t.equal(isStale(e, on, cc('max-age=2'), 1002), false, 'max-age: a Hit at its age');
  t.equal(isStale(e, on, cc('max-age=2'), 1003), true, 'max-age: a Refresh past it');
  t.equal(isStale(e, on, cc(''), 1004), false, 'without directives an entry still stored is served (storage_ttl keeps it)');
  t.equal(isStale(e, on, cc('max-stale=1'), 1004), true, 'max-stale: a Refresh when staler than allowed');
  t.equal(isStale(e, on, cc('max-stale=5'), 1004), false);
  t.equal(isStale(e, on, cc('max-stale'), 1004), false, 'max-stale without a value takes any staleness');
  t.equal(isStale(entry(1000, 300), on, cc('min-fresh=30'), 1000), false, 'min-fresh: fresh enough');
  t.equal(isStale(e, on, cc('min-fresh=30'), 1000), true, 'min-fresh: a Refresh when not fresh for that long');
});

t.test('the byte budget: least recently used entries of any instance go first', async (t) => {
  t.teardown(() => setCacheBudget(DEFAULT_CACHE_BYTES));
  const now = Date.now();
  const a = new MemoryCache('kong');
  const b = new MemoryCache('kong');
  setCacheBudget(4100); // four entries of about 1000 bytes
  const before = cacheUsage().entries;
  a.store('a1', entry(0, 300, 700), 0, now);
  b.store('b1', entry(0, 300, 700), 0, now);
  a.store('a2', entry(0, 300, 700), 0, now);
  t.ok(a.fetch('a1', now), 'a read makes a1 the most recently used');
  b.store('b2', entry(0, 300, 700), 0, now);
  t.equal(cacheUsage().entries - before, 4);
  a.store('a3', entry(0, 300, 700), 0, now);
  t.equal(b.fetch('b1', now), undefined, 'the least recently used (of another instance) is evicted');
  t.ok(a.fetch('a1', now));
  t.ok(cacheUsage().bytes <= 4100);
  t.equal(a.store('huge', entry(0, 300, 5000), 0, now), false, 'an entry larger than the whole budget is not taken');
  t.ok(a.fetch('a1', now), 'and evicts nothing');
  setCacheBudget(1000);
  t.ok(cacheUsage().bytes <= 1000, 'a smaller budget evicts at once');
  a.dispose();
  b.dispose();
  t.equal(cacheUsage().entries, before, 'disposed caches hold nothing');
});

t.test('purge and flush', async (t) => {
  const now = Date.now();
  const c = new MemoryCache('kong');
  c.store('x', entry(0, 300), 0, now);
  c.store('y', entry(0, 300), 0, now);
  t.equal(c.purge('x'), true);
  t.equal(c.purge('x'), false, 'already gone');
  t.equal(c.size, 1);
  c.flush();
  t.equal(c.size, 0);
  c.store('z', entry(0, 300), 0, now);
  t.ok(c.fetch('z', now + 10 * 365 * 86_400_000), 'storage ttl 0: kept until evicted');
  c.dispose();
});
