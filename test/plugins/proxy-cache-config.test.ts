import t from 'tap';
import { errorsOf, yaml } from '../helpers/config';
import { checkConfigText, loadConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';
import { retireSnapshot, type Snapshot } from '../../src/config/snapshot';
import type { CompiledProxyCache } from '../../src/plugins/proxy-cache';
import { proxyCaches } from '../../src/plugins/proxy-cache/operations';

const SPEC = 'spec/03-plugins/31-proxy-cache/01-schema_spec.lua';
const API_SPEC = 'spec/03-plugins/31-proxy-cache/03-api_spec.lua';

const withConfig = (config: string) => yaml('_format_version: "3.0"', 'plugins:', '  - name: proxy-cache', `    config: ${config}`);
const warningsOf = (text: string) => checkConfigText(text, 'kong.yml').warnings.map(formatIssue);
const at = (field: string, message: string) => new RegExp(`plugins\\[0\\]\\.config\\.${field.replace(/[[\]]/g, '\\$&')}: ${message}`);

t.test(`${SPEC}: accepts a minimal config, with Kong's defaults`, async (t) => {
  t.same(errorsOf(withConfig('{strategy: memory}')), []);
  const checked = checkConfigText(withConfig('{strategy: memory}'), 'kong.yml');
  t.same(checked.entities.plugins[0].config, {
    strategy: 'memory',
    response_code: [200, 301, 404],
    request_method: ['GET', 'HEAD'],
    content_type: ['text/plain', 'application/json'],
    cache_ttl: 300,
    cache_control: false,
    ignore_uri_case: false,
    memory: { dictionary_name: 'kong_db_cache' },
    response_headers: { age: true, 'X-Cache-Status': true, 'X-Cache-Key': true },
  });
});

t.test(`${SPEC}: accepts a config with custom values`, async (t) => {
  t.same(errorsOf(withConfig('{strategy: memory, response_code: [200, 301], request_method: [GET], content_type: [application/json]}')), []);
  t.same(errorsOf(withConfig('{strategy: memory, response_code: [123, 200]}')), [], 'accepts an array of numbers');
  t.same(errorsOf(withConfig('{strategy: memory, vary_query_params: [foo], vary_headers: [foo]}')), [], 'vary_query_params and vary_headers');
  t.same(errorsOf(withConfig('{strategy: memory, content_type: ["application/*", "*/text"]}')), [], 'wildcard content_type');
  t.same(errorsOf(withConfig('{strategy: memory, content_type: ["*/*"]}')), []);
  t.same(errorsOf(withConfig('{strategy: memory, content_type: ["application/json; charset=UTF-8"]}')), [], 'content_type with a parameter');
  t.same(errorsOf(withConfig('{strategy: memory, memory: {dictionary_name: kong}, storage_ttl: 600, cache_control: true, ignore_uri_case: true}')), []);
  t.same(errorsOf(withConfig('{strategy: memory, response_headers: {age: false, X-Cache-Status: false, X-Cache-Key: false}}')), []);
});

t.test(`${SPEC}: response_code errors`, async (t) => {
  t.match(errorsOf(withConfig('{strategy: memory, response_code: [99]}')), [at('response_code[0]', 'value should be between 100 and 900')]);
  t.match(errorsOf(withConfig('{strategy: memory, response_code: [901]}')), [at('response_code[0]', 'value should be between 100 and 900')]);
  t.match(errorsOf(withConfig('{strategy: memory, response_code: []}')), [at('response_code', 'length must be at least 1')], 'an empty array');
  t.match(errorsOf(withConfig('{strategy: memory, response_code: ""}')), [at('response_code', 'expected an array')], 'a string');
  t.match(
    errorsOf(withConfig('{strategy: memory, response_code: [true, "alo", 123]}')),
    [at('response_code[0]', 'expected an integer'), at('response_code[1]', 'expected an integer')],
    'non-numeric values',
  );
  t.match(errorsOf(withConfig('{strategy: memory, response_code: [123.5]}')), [at('response_code[0]', 'expected an integer')], 'a float');
});

t.test(`${SPEC}: errors with invalid ttl`, async (t) => {
  t.match(errorsOf(withConfig('{strategy: memory, cache_ttl: -1}')), [at('cache_ttl', 'value must be greater than 0')]);
  t.match(errorsOf(withConfig('{strategy: memory, cache_ttl: 0}')), [at('cache_ttl', 'value must be greater than 0')]);
  t.match(errorsOf(withConfig('{strategy: memory, storage_ttl: -5}')), [at('storage_ttl', 'value must be at least 0')], 'a negative storage_ttl');
});

t.test(`${API_SPEC}: request_method and content_type must be arrays of Kong's methods`, async (t) => {
  t.match(errorsOf(withConfig('{strategy: memory, request_method: GET}')), [at('request_method', 'expected an array')]);
  t.match(errorsOf(withConfig('{strategy: memory, content_type: text/json}')), [at('content_type', 'expected an array')]);
  t.match(errorsOf(withConfig('{strategy: memory, request_method: [DELETE]}')), [at('request_method[0]', 'expected one of: HEAD, GET, POST, PATCH, PUT')]);
});

t.test('strategy is required; redis is Kong Enterprise', async (t) => {
  t.match(errorsOf(withConfig('{}')), [at('strategy', 'required field missing')]);
  t.match(errorsOf(withConfig('{strategy: redis}')), [at('strategy', "strategy 'redis' is Kong Enterprise's \\(the proxy-cache-advanced plugin\\)")]);
  t.match(errorsOf(withConfig('{strategy: disk}')), [at('strategy', 'expected one of: memory, redis')]);
});

t.test('a content_type that is no media type is a warning (Kong accepts it; it matches nothing)', async (t) => {
  t.same(errorsOf(withConfig('{strategy: memory, content_type: ["application/xml;"]}')), []);
  t.match(warningsOf(withConfig('{strategy: memory, content_type: ["application/xml;", "text/plain"]}')), [
    at('content_type[0]', "'application/xml;' is not a media type: it matches no response"),
  ]);
});

t.test('unknown fields are named', async (t) => {
  t.match(errorsOf(withConfig('{strategy: memory, memory: {dictionary_name: kong, size: 10}}')), [at('memory.size', 'unknown field')]);
  t.match(errorsOf(withConfig('{strategy: memory, response_headers: {x-cache-status: false}}')), [at('response_headers.x-cache-status', 'unknown field')]);
});

const cacheOf = (s: Snapshot): CompiledProxyCache => [...proxyCaches(s).values()][0];
const entry = { status: 200, headers: [], served: {}, body: Buffer.from('x'), timestamp: 0, ttl: 300 };

t.test('an unchanged instance keeps its cache across a reload; a changed one starts empty and the old is released', async (t) => {
  const v1 = loadConfigText(withConfig('{strategy: memory}'), 'kong.yml').snapshot;
  cacheOf(v1).cache.store('k', entry, 0, Date.now());
  const same = loadConfigText(withConfig('{strategy: memory}') + '# edited elsewhere\n', 'kong.yml', v1).snapshot;
  t.equal(cacheOf(same), cacheOf(v1), 'the same compiled instance');
  retireSnapshot(v1, same);
  t.ok(cacheOf(same).cache.fetch('k', Date.now()), 'the entry is still served');

  const changed = loadConfigText(withConfig('{strategy: memory, cache_ttl: 60}'), 'kong.yml', same).snapshot;
  t.not(cacheOf(changed), cacheOf(same));
  t.equal(cacheOf(changed).cache.fetch('k', Date.now()), undefined, 'the changed instance starts empty');
  retireSnapshot(same, changed);
  t.equal(cacheOf(same).cache.size, 0, 'the replaced instance is flushed');
  t.equal(cacheOf(same).cache.store('k', entry, 0, Date.now()), false, 'and takes nothing more (a response finishing late)');
});
