import t from 'tap';
import { gzipSync, gunzipSync } from 'node:zlib';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { errorsOf } from '../helpers/config';

// Cases after Kong's spec/03-plugins/15-response-transformer/: 01 and 02 (header and body transformers, unit specs
// there) run here through a real gateway, 04 and 05 as they are.
const HEADERS = 'spec/03-plugins/15-response-transformer/01-header_transformer_spec.lua';
const BODY = 'spec/03-plugins/15-response-transformer/02-body_transformer_spec.lua';

let gw: RunningGateway;
let upstream: Upstream;

/**
 * The upstream answers what the request asks: `/headers?name=value…` sends those headers (a name given twice, twice)
 * and `json` (or `text`) as body; `/gzip` a gzip-encoded JSON body; `/post` echoes the request body as JSON.
 */
async function startAnswering(): Promise<Upstream> {
  return startUpstream((req, res, body) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/post') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ params: JSON.parse(body.toString()), url: req.url }));
    }
    if (url.pathname === '/gzip') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      return res.end(gzipSync('{"p1":"v1","url":"/gzip"}'));
    }
    const list: string[] = [];
    for (const [k, v] of url.searchParams) if (k !== 'json' && k !== 'text') list.push(k, v);
    const text = url.searchParams.get('text');
    const json = url.searchParams.get('json') ?? JSON.stringify({ url: req.url, headers: 'h', uri_args: 'u', ip: '127.0.0.1' });
    if (!list.some((n, i) => i % 2 === 0 && n.toLowerCase() === 'content-type')) list.push('content-type', text !== null ? 'text/plain' : 'application/json');
    const payload = text ?? json;
    res.writeHead(200, [...list, 'content-length', String(Buffer.byteLength(payload))]);
    res.end(payload);
  });
}

const routes: Record<string, object> = {
  'remove.test': { remove: { headers: ['h1', 'h2', 'h3'] }, add: { json: ['p1:v1'] } },
  'rename.test': { rename: { headers: ['h1:h2', 'h3:h4'] } },
  'replace.test': { replace: { headers: ['h1:v1', 'h2:value:2'] }, add: { json: ['p1:v1'] } },
  'add.test': { add: { json: ['p1:v1'], headers: ['h2:v2'] } },
  'append.test': { add: { json: ['p1:v1'] }, append: { headers: ['h1:v2'] } },
  'together.test': { remove: { headers: ['h1:v1'] }, replace: { headers: ['h2:v3'] }, add: { json: ['p1:v1'], headers: ['h3:v3'] }, append: { headers: ['h3:v4'] } },
  'jadd.test': { add: { json: ['p1:v1', 'p3:value:3', 'p4:"v1"', 'p5:-1', 'p6:false', 'p7:true'], json_types: ['string', 'string', 'string', 'number', 'boolean', 'boolean'] } },
  'jappend.test': { append: { json: ['p1:v1', 'p3:"v1"', 'p4:-1', 'p5:false', 'p6:true'], json_types: ['string', 'string', 'number', 'boolean', 'boolean'] } },
  'jremove.test': { remove: { json: ['p1', 'p2'] } },
  'jrename.test': { rename: { json: ['p1:k1', 'p2:k2', 'p3:k3', 'p4:k4', 'p5:k5'] } },
  'jreplace.test': { replace: { json: ['p1:v2', 'p2:"v2"', 'p3:-1', 'p4:false', 'p5:true'], json_types: ['string', 'string', 'number', 'boolean', 'boolean'] } },
  'jall.test': { remove: { json: ['p1'] }, rename: { json: ['p4:p2'] }, replace: { json: ['p2:v2'] }, add: { json: ['p3:v1'] }, append: { json: ['p3:v2'] } },
  'headersonly.test': { remove: { headers: ['h1'] } },
  'response.test': { remove: { headers: ['Access-Control-Allow-Origin'], json: ['url'] } },
  'response2.test': { replace: { json: ['headers:/hello/world', 'uri_args:this is a / test', 'url:"wot"'] } },
  'response3.test': { remove: { json: ['ip'] } },
  'big.test': { add: { json: ['p1:v1'] }, remove: { json: ['params'] } },
  'removeadd.test': { remove: { headers: ['h1'] }, add: { headers: ['h1:new'] }, rename: { headers: ['h2:h3', 'h3:h4'] } },
};

function doc(port: number) {
  return {
    _format_version: '3.0',
    services: [
      {
        name: 'answering',
        url: `http://127.0.0.1:${port}`,
        routes: Object.entries(routes).map(([host, config], i) => ({
          name: `r${i}`,
          hosts: [host],
          plugins: [{ name: 'response-transformer', config }, ...(host === 'response3.test' ? [{ name: 'basic-auth' }] : [])],
        })),
      },
      { name: 'plain', url: `http://127.0.0.1:${port}`, routes: [{ name: 'global', hosts: ['global.test'] }] },
      { name: 'scoped', url: `http://127.0.0.1:${port}`, plugins: [{ name: 'response-transformer', config: { add: { headers: ['x-service:1'] } } }], routes: [{ name: 'svc', hosts: ['service.test'] }] },
    ],
    consumers: [{ username: 'alice', keyauth_credentials: [{ key: 'alice-key-123456' }], plugins: [{ name: 'response-transformer', config: { add: { headers: ['x-consumer:alice'] } } }] }],
    routes: [
      { name: 'keyed', hosts: ['keyed.test'], service: 'scoped', plugins: [{ name: 'key-auth' }] },
    ],
    plugins: [{ name: 'response-transformer', config: { add: { headers: ['x-global:1'] } } }],
  };
}

t.before(async () => {
  upstream = await startAnswering();
  gw = await startGateway(JSON.stringify(doc(upstream.port)));
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

const get = (host: string, path: string, headers: Record<string, string> = {}) => request(gw.proxyPort, path, { headers: { host, ...headers } });
const withBody = (json: string) => `/get?json=${encodeURIComponent(json)}`;

t.test(`${HEADERS}: execute_headers()`, async (t) => {
  let r = await get('remove.test', '/headers?h1=value1&h2=value2a&h2=value2b');
  t.equal(r.headers.h1, undefined, 'remove: all the headers');
  t.equal(r.headers.h2, undefined);
  r = await get('rename.test', '/headers?h1=v1&h3=v3');
  t.same([r.headers.h1, r.headers.h2, r.headers.h3, r.headers.h4], [undefined, 'v1', undefined, 'v3'], 'rename: header if the header exists');
  r = await get('rename.test', '/headers');
  t.equal(r.headers.h2, undefined, 'rename: does not add as new header if header is not present');
  r = await get('rename.test', '/headers?h1=v1&h1=v2');
  t.equal(r.headers.h2, 'v1, v2', 'rename: header rename when same header being set twice');
  r = await get('replace.test', '/headers?h1=value1&h2=value2a&h2=value2b');
  t.same([r.headers.h1, r.headers.h2], ['v1', 'value:2'], 'replace: header if the header only exists');
  r = await get('replace.test', '/headers?h2=value2a&h2=value2b');
  t.same([r.headers.h1, r.headers.h2], [undefined, 'value:2'], 'replace: does not add a new header if the header does not already exist');
  r = await get('add.test', '/headers?h1=v1');
  t.same([r.headers.h1, r.headers.h2], ['v1', 'v2'], 'add: header if the header does not exists');
  r = await get('add.test', '/headers?h1=v1&h2=v3');
  t.equal(r.headers.h2, 'v3', 'add: does not add a new header if the header already exist');
  r = await get('append.test', '/headers');
  t.equal(r.headers.h1, 'v2', 'append: header if the header does not exists');
  r = await get('append.test', '/headers?h1=v1');
  t.equal(r.headers.h1, 'v1, v2', 'append: header if the header already exist');
  r = await get('together.test', '/headers?h1=v1&h2=v2');
  t.same([r.headers.h1, r.headers.h2, r.headers.h3], [undefined, 'v3', 'v3, v4'], 'performing remove, replace, add, append together');
});

t.test('kong/plugins/response-transformer/header_transformer.lua: rename, replace and add test the headers as the response came', async (t) => {
  const came = await get('removeadd.test', '/headers?h1=old&h2=v2');
  t.equal(came.headers.h1, undefined, 'removed, and not added back: the response had it');
  t.same([came.headers.h2, came.headers.h3, came.headers.h4], [undefined, 'v2', undefined], 'h3 was not in the response: not renamed on');
  t.equal((await get('removeadd.test', '/headers')).headers.h1, 'new', 'added when the response had none');
});

t.test(`${HEADERS}: content-length follows a transformed JSON body, and is kept otherwise`, async (t) => {
  const r = await get('add.test', withBody('{"a":1}'));
  t.same(r.json(), { a: 1, p1: 'v1' });
  t.equal(r.headers['content-length'], String(r.body.length), 'sets content-length for the new body');
  const form = await get('add.test', '/headers?content-type=application/x-www-form-urlencoded&text=a%3D1');
  t.equal(form.body, 'a=1', 'does not touch a body if content-type not json');
  t.equal(form.headers['content-length'], '3');
  const h = await get('headersonly.test', withBody('{ "a" : 1 }'));
  t.equal(h.body, '{ "a" : 1 }', `${BODY}: body remains unaltered if no transforms have been set`);
});

t.test(`${HEADERS}: is_json_body()`, async (t) => {
  for (const type of ['application/json', 'application/json; charset=utf-8', 'application/problem+json', 'application/problem+json; charset=utf-8', 'application/x-www-form-urlencoded, application/json']) {
    const r = await get('add.test', `/headers?content-type=${encodeURIComponent(type)}&json=%7B%7D`);
    t.same(r.json(), { p1: 'v1' }, `is truthy for ${type}`);
  }
  const r = await get('add.test', '/headers?content-type=application/x-www-form-urlencoded&text=%7B%7D');
  t.equal(r.body, '{}', 'is falsy when content-type not application/json');
});

t.test(`${BODY}: transform_json_body()`, async (t) => {
  const body = async (host: string, json: string) => (await get(host, withBody(json))).json();
  const added = { p1: 'v1', p3: 'value:3', p4: '"v1"', p5: -1, p6: false, p7: true };
  t.same(await body('jadd.test', '{"p2":"v1"}'), { p2: 'v1', ...added }, 'add: parameter, value in double quotes');
  t.same(await body('jadd.test', '{"p2":-1}'), { p2: -1, ...added }, 'add: number');
  t.same(await body('jadd.test', '{"p2":false}'), { p2: false, ...added }, 'add: boolean');
  t.equal((await get('jadd.test', withBody('{"p2":"v1","a":[]}'))).body, JSON.stringify({ p2: 'v1', a: [], ...added }), 'add: preserves empty arrays');
  const appended = { p1: ['v1'], p3: ['"v1"'], p4: [-1], p5: [false], p6: [true] };
  t.same(await body('jappend.test', '{"p2":"v1"}'), { p2: 'v1', ...appended }, 'append: new key:value if key does not exists');
  t.same(await body('jappend.test', '{"p1":"v2"}'), { ...appended, p1: ['v2', 'v1'] }, 'append: value if key exists');
  t.same(await body('jappend.test', '{"p3":"v2"}'), { ...appended, p3: ['v2', '"v1"'] }, 'append: value in double quotes');
  t.same(await body('jappend.test', '{"p4":"v2"}'), { ...appended, p4: ['v2', -1] }, 'append: number');
  t.same(await body('jappend.test', '{"p5":"v5","p6":"v6"}'), { ...appended, p5: ['v5', false], p6: ['v6', true] }, 'append: boolean');
  t.equal((await get('jremove.test', withBody('{"p1" : "v1", "p2" : "v1"}'))).body, '{}', 'remove: parameter');
  t.equal((await get('jremove.test', withBody('{"p1" : "v1", "p2" : "v1", "a": []}'))).body, '{"a":[]}', 'remove: preserves empty arrays');
  t.same(await body('jrename.test', '{"p1" : "v1", "p2" : "v2"}'), { k1: 'v1', k2: 'v2' }, 'rename: parameter');
  t.equal((await get('jrename.test', withBody('{"p1" : "v1", "p2" : "v2", "p3": []}'))).body, '{"k1":"v1","k2":"v2","k3":[]}', 'rename: preserves empty arrays');
  t.same(await body('jrename.test', '{"p3" : -1}'), { k3: -1 }, 'rename: number');
  t.same(await body('jrename.test', '{"p4" : false, "p5" : true}'), { k4: false, k5: true }, 'rename: boolean');
  t.same(await body('jreplace.test', '{"p1" : "v1", "p2" : "v1"}'), { p1: 'v2', p2: '"v2"' }, 'replace: parameter if it exists');
  t.same(await body('jreplace.test', '{"p1" : "v1"}'), { p1: 'v2' }, 'replace: does not add value to parameter if parameter does not exists');
  t.same(await body('jreplace.test', '{"p3" : "v1"}'), { p3: -1 }, 'replace: number');
  t.same(await body('jreplace.test', '{"p4" : "v4", "p5" : "v5"}'), { p4: false, p5: true }, 'replace: boolean');
  t.same(await body('jall.test', '{"p1" : "v1", "p4" : "v1"}'), { p2: 'v2', p3: ['v1', 'v2'] }, 'remove, rename, replace, add, append: combination');
  t.equal((await get('jall.test', withBody('{"p1" : "v1", "p4" : "v1", "a" : []}'))).body, '{"a":[],"p2":"v2","p3":["v1","v2"]}', 'combination preserves empty array');
  const bad = await get('jremove.test', withBody('not a json value'));
  t.equal(bad.body, 'not a json value', 'handle unexpected body type: gracefully fails transforming invalid json body');
});

t.test('spec/03-plugins/15-response-transformer/04-filter_spec.lua', async (t) => {
  const p = await get('response.test', '/get');
  t.equal(p.json().url, undefined, 'remove a parameter');
  const h = await get('response.test', '/headers?Access-Control-Allow-Origin=*');
  t.equal(h.headers['access-control-allow-origin'], undefined, 'remove a header');
  const r = await get('response2.test', '/get');
  t.equal(r.json().headers, '/hello/world', 'replace a body parameter on GET');
  t.equal(r.json().url, '"wot"');
  t.equal(r.json().uri_args, 'this is a / test');
  const s = await get('response3.test', '/get');
  t.equal(s.status, 401, 'does not throw an error when request was short-circuited in access phase');
  t.same(Object.keys(s.json()).sort(), ['message', 'request_id'], "the gateway's own JSON answer goes through the body rules too");
});

t.test('spec/03-plugins/15-response-transformer/05-big_response_body_spec.lua', async (t) => {
  const big = JSON.stringify({ mock_json: { big_field: '*'.repeat(1024 * 1024) } });
  const r = await request(gw.proxyPort, '/post', { method: 'POST', headers: { host: 'big.test', 'content-type': 'application/json' }, body: big });
  t.equal(r.status, 200);
  t.equal(r.json().p1, 'v1', 'add new parameters on large POST');
  t.equal(r.json().params, undefined, 'remove parameters on large POST');
});

t.test('a body over the 8 MiB limit is sent as it came', async (t) => {
  const big = JSON.stringify({ params: 'x'.repeat(9 * 1024 * 1024) });
  const r = await request(gw.proxyPort, '/post', { method: 'POST', headers: { host: 'big.test', 'content-type': 'application/json' }, body: big });
  t.equal(r.status, 200);
  t.equal(r.json().params.params.length, 9 * 1024 * 1024);
  t.equal(r.json().p1, undefined);
});

t.test('a gzip-encoded body is not JSON text: sent as it came (Kong fails to decode it too)', async (t) => {
  const r = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    import('node:http').then(({ request: send }) => {
      const req = send({ host: '127.0.0.1', port: gw.proxyPort, path: '/gzip', headers: { host: 'jremove.test' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });
  });
  t.equal(r.headers['content-encoding'], 'gzip');
  t.equal(gunzipSync(r.body).toString(), '{"p1":"v1","url":"/gzip"}');
});

t.test('global, service, route and consumer scopes', async (t) => {
  t.equal((await get('global.test', '/headers')).headers['x-global'], '1', 'global');
  t.equal((await get('add.test', '/headers')).headers['x-global'], undefined, 'a route-level instance replaces the global one');
  t.equal((await get('service.test', '/headers')).headers['x-service'], '1', 'service');
  const c = await get('keyed.test', '/headers', { apikey: 'alice-key-123456' });
  t.equal(c.headers['x-consumer'], 'alice', 'consumer');
});

t.test('spec/03-plugins/15-response-transformer/03-api_spec.lua: config errors at their field paths', async (t) => {
  const config = (c: object) => JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'response-transformer', config: c }] });
  t.same(errorsOf(config({ remove: { headers: ['just_a_key'], json: ['just_a_key'] } })), [], 'remove succeeds without colons');
  t.same(errorsOf(config({ rename: { headers: ['x-old-name:x-new-name'], json: ['old:new'] } })), [], 'rename succeeds with colons');
  t.match(errorsOf(config({ rename: { headers: ['x-no-colon'] } })).join('\n'), /config\.rename\.headers\[0\]: invalid value 'x-no-colon'/, 'rename fails with missing colons');
  t.match(errorsOf(config({ rename: { headers: ['x-old-name:x-new-name!'] } })).join('\n'), /config\.rename\.headers\[0\]: 'x-new-name!' is not a valid header/, 'rename fails with invalid header name');
  for (const op of ['add', 'replace', 'append']) {
    t.match(errorsOf(config({ [op]: { headers: ['just_a_key'] } })).join('\n'), new RegExp(`config\\.${op}\\.headers\\[0\\]: invalid value 'just_a_key'`), `${op} fails with missing colons for key/value separation`);
  }
  t.match(errorsOf(config({ add: { json: ['a:1'], json_types: ['integer'] } })).join('\n'), /config\.add\.json_types\[0\]: expected one of: boolean, number, string/);
  t.match(errorsOf(config({ add: { headers: ['x:a\nb'] } })).join('\n'), /config\.add\.headers\[0\]: a header value may not hold control characters/);
});
