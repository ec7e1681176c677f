import t from 'tap';
import { request, startUpstream, type Reply, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { errorsOf } from '../helpers/config';

const SPEC = 'spec/03-plugins/13-cors/01-access_spec.lua';
const DEFAULT_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT';

let gw: RunningGateway;
let upstream: Upstream;

// Kong's regex_testcases: each origins list, and per request Origin whether it is accepted (true: echoed back;
// a string: that origin is sent back instead; false: no Access-Control-Allow-Origin).
const REGEX_CASES: Array<{ origins: string[]; tests: Record<string, boolean | string> }> = [
  {
    origins: ['foo.test'],
    tests: { 'http://evil.test': 'foo.test', 'http://foo.test': 'foo.test', 'http://foo.test:8000': 'foo.test', 'https://bar.test:1234': 'foo.test' },
  },
  {
    origins: ['https://bar.test:1234'],
    tests: { 'http://evil.test': 'https://bar.test:1234', 'https://bar.test:1234': 'https://bar.test:1234', 'http://foobtest': 'https://bar.test:1234' },
  },
  {
    origins: ['foo\\.test'],
    tests: {
      'http://evil.test': false,
      'http://foo.test': true,
      'http://foo.test.evil.test': false,
      'http://something.foo.test': false,
      'http://evilfoo.test': false,
      'http://foo.test:80': 'http://foo.test',
      'http://foo.test:8000': true,
      'https://foo.test:8000': true,
      'http://foo.test:90': true,
      'http://foobtest': false,
      'https://bar.test:1234': false,
    },
  },
  {
    origins: ['(.*[./])?foo\\.test'],
    tests: {
      'http://evil.test': false,
      'http://foo.test': true,
      'http://foo.test.evil.test': false,
      'http://something.foo.test': true,
      'http://evilfoo.test': false,
      'http://foo.test:80': 'http://foo.test',
      'http://foo.test:8000': true,
      'https://foo.test:8000': true,
      'http://foobtest': false,
    },
  },
  {
    origins: ['(.*[./])?foo\\.test:8000'],
    tests: {
      'http://foo.test': false,
      'http://something.foo.test': false,
      'http://foo.test:80': false,
      'http://foo.test:8000': true,
      'https://foo.test:8000': true,
      'http://foo.test:90': false,
    },
  },
  {
    origins: ['https://(.*[.])?foo\\.test:8000'],
    tests: { 'http://foo.test:8000': false, 'https://foo.test:8000': true, 'http://foo.test': false, 'http://foo.test:90': false },
  },
  {
    origins: ['^http://(.*[.])?foo\\.test(:(80|90))?$'],
    tests: {
      'http://evil.test': false,
      'http://foo.test': true,
      'http://foo.test.evil.test': false,
      'http://something.foo.test': true,
      'http://foo.test:80': 'http://foo.test',
      'http://foo.test:8000': false,
      'https://foo.test:8000': false,
      'http://foo.test:90': true,
    },
  },
  {
    origins: ['foo.test', 'bar.test'],
    tests: { 'http://evil.test': false, 'http://foo.test': false, 'http://foo.test:80': false, 'https://bar.test:1234': false },
  },
  {
    origins: ['http://foo.test', 'https://bar.test:1234'],
    tests: {
      'http://evil.test': false,
      'http://foo.test': true,
      'http://foo.test.evil.test': false,
      'http://foo.test:80': 'http://foo.test',
      'http://foo.test:8000': false,
      'https://bar.test:1234': true,
    },
  },
  {
    origins: ['bar.test', 'foo\\.test'],
    tests: { 'http://foo.test': true, 'http://something.foo.test': false, 'http://foo.test:80': 'http://foo.test', 'http://foo.test:90': true, 'http://foobtest': false },
  },
  {
    origins: ['bar.test', '(.*\\.)?foo\\.test'],
    tests: { 'http://foo.test': true, 'http://something.foo.test': true, 'http://foo.test.evil.test': false, 'http://foo.test:8000': true },
  },
  {
    origins: ['bar.test', '(.*[./])?foo\\.test:8000'],
    tests: { 'http://foo.test': false, 'http://foo.test:8000': true, 'https://foo.test:8000': true, 'http://foo.test:90': false },
  },
  {
    origins: ['bar.test', 'https://(.*\\.)?foo\\.test:8000'],
    tests: { 'http://foo.test:8000': false, 'https://foo.test:8000': true, 'https://bar.test:1234': false },
  },
];

const FULL = { origins: ['example.test'], methods: ['GET'], headers: ['origin', 'type', 'accepts'], exposed_headers: ['x-auth-token'], max_age: 23 };

t.before(async () => {
  upstream = await startUpstream((req, res, body) => {
    const q = new URL(req.url!, 'http://x').searchParams;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (q.has('vary')) headers.vary = q.get('vary')!;
    if (q.has('acao')) headers['access-control-allow-origin'] = q.get('acao')!;
    res.writeHead(Number(q.get('status') ?? 200), headers);
    res.end(JSON.stringify({ method: req.method, origin: req.headers.origin ?? null, body: body.toString() }));
  });
  const route = (host: string, config: object, more: object[] = []) => ({
    name: host,
    hosts: [host],
    service: 'up',
    plugins: [{ name: 'cors', config }, ...more],
  });
  const config = {
    _format_version: '3.0',
    services: [
      { name: 'up', url: `http://127.0.0.1:${upstream.port}` },
      { name: 'down', url: 'http://127.0.0.1:9', routes: [{ name: 'timeout', hosts: ['cors-timeout.test'], plugins: [{ name: 'cors', config: { ...FULL, preflight_continue: true, max_age: 10 } }] }] },
    ],
    routes: [
      route('cors1.test', {}),
      route('cors2.test', { ...FULL, credentials: true }),
      route('cors3.test', { ...FULL, preflight_continue: true }),
      route('cors4.test', {}, [{ name: 'key-auth' }]),
      route('cors5.test', { origins: ['*'], credentials: true }),
      route('cors6.test', { ...FULL, origins: ['example.test', 'example.org'], preflight_continue: true }),
      route('cors7.test', { origins: ['*'], credentials: false }),
      route('cors-empty-origins.test', { origins: [] }),
      route('cors9.test', { origins: ['.*\\.?example(?:-foo)?.test'] }),
      route('cors10.test', { origins: ['http://my-site.test', 'http://my-other-site.test'] }),
      route('cors11.test', { origins: ['http://my-site.test', 'https://my-other-site.test:9000'] }),
      route('cors12.test', {
        credentials: true,
        max_age: 1728000,
        headers: ['DNT', 'X-CustomHeader', 'Keep-Alive', 'User-Agent', 'X-Requested-With', 'If-Modified-Since', 'Cache-Control', 'Content-Type', 'Authorization'],
        methods: null,
        origins: ['a.xxx.test', 'allowed-domain.test'],
      }),
      route('cors13.test', { private_network: true, origins: ['allowed-domain.test'] }),
      route('cors14.test', { origins: ['foo.bar', '*'] }),
      route('cors15.test', { allow_origin_absent: false, origins: ['foo.bar'], exposed_headers: ['x-auth-token'], credentials: true }),
      route('cors16.test', { allow_origin_absent: true, origins: ['foo.bar'], exposed_headers: ['x-auth-token'], credentials: true }),
      route('cors-upstream.test', { ...FULL, preflight_continue: true, max_age: 10 }),
      ...REGEX_CASES.map((c, i) => route(`cors-regex-${i}.test`, { origins: c.origins })),
    ],
  };
  gw = await startGateway(JSON.stringify(config));
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

const get = (host: string, headers: Record<string, string> = {}, path = '/') => request(gw.proxyPort, path, { headers: { host, ...headers } });
const preflight = (host: string, origin: string, headers: Record<string, string> = {}) =>
  request(gw.proxyPort, '/', { method: 'OPTIONS', headers: { host, origin, 'access-control-request-method': 'GET', ...headers } });

function noneOf(t: Tap.Test, r: Reply, names: string[]) {
  for (const name of names) t.equal(r.headers[`access-control-${name}`], undefined, `no access-control-${name}`);
}

t.test(`${SPEC}: HTTP method OPTIONS: regex test cases`, async (t) => {
  for (const [i, c] of REGEX_CASES.entries()) {
    for (const [origin, accept] of Object.entries(c.tests)) {
      const r = await preflight(`cors-regex-${i}.test`, origin);
      t.equal(r.status, 200);
      const label = `${JSON.stringify(c.origins)} given ${origin}`;
      if (accept === false) {
        t.equal(r.headers['access-control-allow-origin'], undefined, `${label}: rejected`);
        continue;
      }
      t.equal(r.headers['access-control-allow-origin'], accept === true ? origin : accept, `${label}: accepted`);
      t.equal(r.headers['access-control-allow-methods'], DEFAULT_METHODS);
      noneOf(t, r, ['allow-headers', 'expose-headers', 'allow-credentials', 'max-age']);
    }
  }
});

t.test(`${SPEC}: OPTIONS gives appropriate defaults, answered by the gateway with no body`, async (t) => {
  const before = upstream.seen.length;
  const r = await preflight('cors1.test', 'origin1.test');
  t.equal(r.status, 200);
  t.equal(r.headers['content-length'], '0');
  t.equal(r.body, '');
  t.equal(r.headers['access-control-allow-methods'], DEFAULT_METHODS);
  t.equal(r.headers['access-control-allow-origin'], '*');
  noneOf(t, r, ['allow-headers', 'expose-headers', 'allow-credentials', 'max-age']);
  t.equal(r.headers.vary, undefined);
  t.equal(upstream.seen.length, before, 'the preflight never reaches the upstream');
});

t.test(`${SPEC}: OPTIONS gives * wildcard when config.origins is empty`, async (t) => {
  const r = await preflight('cors-empty-origins.test', 'empty-origin.test');
  t.equal(r.headers['access-control-allow-origin'], '*');
  t.equal(r.headers.vary, undefined);
});

t.test(`${SPEC}: OPTIONS with origins * and credentials: the request's origin, Vary: Origin`, async (t) => {
  const r = await preflight('cors5.test', 'origin5.test');
  t.equal(r.headers['access-control-allow-origin'], 'origin5.test');
  t.equal(r.headers['access-control-allow-credentials'], 'true');
  t.equal(r.headers.vary, 'Origin');
  noneOf(t, r, ['allow-headers', 'expose-headers', 'max-age']);
});

t.test(`${SPEC}: OPTIONS gives * wildcard when origins has several entries including *`, async (t) => {
  const r = await preflight('cors14.test', 'http://www.example.net');
  t.equal(r.headers['access-control-allow-origin'], '*');
  noneOf(t, r, ['allow-headers', 'expose-headers', 'allow-credentials', 'max-age']);
});

t.test(`${SPEC}: OPTIONS accepts config options (methods, headers, max_age, credentials)`, async (t) => {
  const r = await preflight('cors2.test', 'origin5.test');
  t.equal(r.status, 200);
  t.equal(r.headers['content-length'], '0');
  t.equal(r.headers['access-control-allow-methods'], 'GET');
  t.equal(r.headers['access-control-allow-origin'], 'example.test');
  t.equal(r.headers['access-control-max-age'], '23');
  t.equal(r.headers['access-control-allow-credentials'], 'true');
  t.equal(r.headers['access-control-allow-headers'], 'origin,type,accepts');
  t.equal(r.headers.vary, 'Origin');
  t.equal(r.headers['access-control-expose-headers'], undefined);
});

t.test(`${SPEC}: preflight_continue enabled: the upstream answers the preflight, untouched`, async (t) => {
  const before = upstream.seen.length;
  const r = await request(gw.proxyPort, '/?status=201', {
    method: 'OPTIONS',
    headers: { host: 'cors3.test', origin: 'http://a.test', 'access-control-request-method': 'GET' },
  });
  t.equal(r.status, 201);
  t.equal(r.json().method, 'OPTIONS');
  t.equal(upstream.seen.length, before + 1);
  noneOf(t, r, ['allow-origin', 'allow-methods', 'allow-headers', 'expose-headers', 'max-age']);
});

t.test(`${SPEC}: replies with request-headers if present in request`, async (t) => {
  const r = await preflight('cors5.test', 'origin5.test', { 'access-control-request-headers': 'origin,accepts' });
  t.equal(r.headers['content-length'], '0');
  t.equal(r.headers['access-control-allow-headers'], 'origin,accepts');
});

t.test(`${SPEC}: properly validates flat strings`, async (t) => {
  const ok = await preflight('cors10.test', 'http://my-site.test');
  t.equal(ok.headers['access-control-allow-origin'], 'http://my-site.test');
  t.equal((await preflight('cors10.test', 'http://bad-guys.test')).headers['access-control-allow-origin'], undefined);
  t.equal((await preflight('cors10.test', 'http://my-site.test.bad-guys.test')).headers['access-control-allow-origin'], undefined);
});

t.test(`${SPEC}: support private-network`, async (t) => {
  const r = await preflight('cors13.test', 'allowed-domain.test', { 'access-control-request-private-network': 'true' });
  t.equal(r.headers['access-control-allow-private-network'], 'true');
  const without = await preflight('cors13.test', 'allowed-domain.test');
  t.equal(without.headers['access-control-allow-private-network'], undefined, 'only when the browser asks');
  const off = await preflight('cors1.test', 'allowed-domain.test', { 'access-control-request-private-network': 'true' });
  t.equal(off.headers['access-control-allow-private-network'], undefined, 'private_network off');
});

t.test(`${SPEC}: methods: null means all methods`, async (t) => {
  const r = await preflight('cors12.test', 'allowed-domain.test');
  t.equal(r.headers['access-control-allow-methods'], DEFAULT_METHODS);
  t.equal(r.headers['access-control-max-age'], '1728000');
  t.equal(r.headers['access-control-allow-headers'], 'DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Authorization');
});

t.test(`${SPEC}: HTTP method others: gives appropriate defaults`, async (t) => {
  const r = await get('cors1.test');
  t.equal(r.status, 200);
  t.equal(r.headers['access-control-allow-origin'], '*');
  noneOf(t, r, ['allow-methods', 'allow-headers', 'expose-headers', 'allow-credentials', 'max-age']);
  t.equal(r.headers.vary, undefined);
});

t.test(`${SPEC}: proxies a non-preflight OPTIONS request`, async (t) => {
  const r = await request(gw.proxyPort, '/', { method: 'OPTIONS', headers: { host: 'cors1.test' } });
  t.equal(r.status, 200);
  t.equal(r.json().method, 'OPTIONS');
  t.equal(r.headers['access-control-allow-origin'], '*');
  noneOf(t, r, ['allow-methods', 'allow-headers', 'max-age']);
});

t.test(`${SPEC}: HTTP method others: accepts config options`, async (t) => {
  const r = await get('cors2.test');
  t.equal(r.headers['access-control-allow-origin'], 'example.test');
  t.equal(r.headers['access-control-expose-headers'], 'x-auth-token');
  t.equal(r.headers['access-control-allow-credentials'], 'true');
  t.equal(r.headers.vary, 'Origin');
  noneOf(t, r, ['allow-methods', 'allow-headers', 'max-age']);
});

t.test(`${SPEC}: works even when the upstream fails (502 from the gateway)`, async (t) => {
  const r = await get('cors-timeout.test');
  t.equal(r.status, 502);
  t.equal(r.headers['access-control-allow-origin'], 'example.test');
  t.equal(r.headers['access-control-expose-headers'], 'x-auth-token');
  t.equal(r.headers.vary, 'Origin');
  noneOf(t, r, ['allow-credentials', 'allow-methods', 'allow-headers', 'max-age']);
});

t.test(`${SPEC}: works with 404 responses`, async (t) => {
  const r = await get('cors1.test', {}, '/?status=404');
  t.equal(r.status, 404);
  t.equal(r.headers['access-control-allow-origin'], '*');
});

t.test(`${SPEC}: works with 40x responses returned by another plugin (key-auth's 401)`, async (t) => {
  const r = await get('cors4.test');
  t.equal(r.status, 401);
  t.equal(r.headers['access-control-allow-origin'], '*');
  noneOf(t, r, ['allow-methods', 'allow-headers', 'expose-headers', 'allow-credentials', 'max-age']);
  t.equal(r.headers.vary, undefined);
  const pre = await preflight('cors4.test', 'http://app.test');
  t.equal(pre.status, 200, 'the preflight is answered before key-auth runs');
});

t.test(`${SPEC}: sets CORS origin based on origin host`, async (t) => {
  const r = await get('cors6.test', { origin: 'example.test' });
  t.equal(r.headers['access-control-allow-origin'], 'example.test');
  t.equal(r.headers.vary, 'Origin');
  const domains: Record<string, boolean> = {
    'example.test': true,
    'www.example.test': true,
    'example-foo.test': true,
    'www.example-foo.test': true,
    'www.example-fo0.test': false,
  };
  for (const [domain, ok] of Object.entries(domains)) {
    const d = await get('cors9.test', { origin: domain });
    t.equal(d.headers['access-control-allow-origin'], ok ? domain : undefined, domain);
    t.equal(d.headers.vary, 'Origin');
  }
});

t.test(`${SPEC}: sets Vary and does not override an existing Vary header`, async (t) => {
  const r = await get('cors-upstream.test', { origin: 'example.test' }, '/?vary=Accept-Encoding');
  t.equal(r.headers.vary, 'Accept-Encoding, Origin');
});

t.test(`${SPEC}: does not automatically parse the host`, async (t) => {
  t.equal((await get('cors6.test', { origin: 'http://example.test' })).headers['access-control-allow-origin'], undefined);
  t.equal((await get('cors6.test', { origin: 'https://example.test' })).headers['access-control-allow-origin'], undefined);
});

t.test(`${SPEC}: validates scheme and port`, async (t) => {
  const acao = async (origin: string) => (await get('cors11.test', { origin })).headers['access-control-allow-origin'];
  t.equal(await acao('http://my-site.test'), 'http://my-site.test');
  t.equal(await acao('http://my-site.test:80'), 'http://my-site.test');
  t.equal(await acao('http://my-site.test:8000'), undefined);
  t.equal(await acao('https://my-site.test'), undefined);
  t.equal(await acao('https://my-other-site.test:9000'), 'https://my-other-site.test:9000');
  t.equal(await acao('https://my-other-site.test:9001'), undefined);
});

t.test(`${SPEC}: does not set CORS origin if origin host is not in origins`, async (t) => {
  t.equal((await get('cors6.test', { origin: 'http://www.example.net' })).headers['access-control-allow-origin'], undefined);
});

t.test(`${SPEC}: responds with the requested Origin (port included) when config.credentials=true`, async (t) => {
  for (const origin of ['http://www.example.net', 'http://www.example.net:3000']) {
    const r = await get('cors5.test', { origin });
    t.equal(r.headers['access-control-allow-origin'], origin);
    t.equal(r.headers['access-control-allow-credentials'], 'true');
    t.equal(r.headers.vary, 'Origin');
  }
});

t.test(`${SPEC}: responds with * when origin is explicitly * and config.credentials=false`, async (t) => {
  const r = await get('cors7.test', { origin: 'http://www.example.net' });
  t.equal(r.headers['access-control-allow-origin'], '*');
  t.equal(r.headers['access-control-allow-credentials'], undefined);
  t.equal(r.headers.vary, undefined);
  t.equal((await get('cors14.test', { origin: 'http://www.example.net' })).headers['access-control-allow-origin'], '*');
});

t.test(`${SPEC}: removes upstream ACAO header when no match is found`, async (t) => {
  const ok = await get('cors12.test', { origin: 'allowed-domain.test' }, '/?acao=*');
  t.equal(ok.headers['access-control-allow-origin'], 'allowed-domain.test');
  t.equal(ok.headers['access-control-allow-credentials'], 'true');
  t.equal(ok.headers.vary, 'Origin');
  t.equal(ok.json().origin, 'allowed-domain.test', 'the Origin reaches the upstream');
  const no = await get('cors12.test', { origin: 'disallowed-domain.test' }, '/?acao=*');
  t.equal(no.headers['access-control-allow-origin'], undefined);
  t.equal(no.headers['access-control-allow-credentials'], 'true');
});

t.test(`${SPEC}: allow_origin_absent`, async (t) => {
  for (const origin of [undefined, '']) {
    const headers: Record<string, string> = origin === undefined ? {} : { origin };
    const off = await get('cors15.test', headers);
    noneOf(t, off, ['allow-origin', 'allow-credentials', 'expose-headers']);
    const on = await get('cors16.test', headers);
    t.equal(on.headers['access-control-allow-origin'], 'foo.bar');
    t.equal(on.headers['access-control-allow-credentials'], 'true');
    t.equal(on.headers['access-control-expose-headers'], 'x-auth-token');
  }
});

t.test('spec/03-plugins/13-cors/02-schema_spec.lua: origins must be * or valid regexes; methods from the list', async (t) => {
  const conf = (config: string) => ['_format_version: "3.0"', 'plugins:', `  - name: cors`, `    config: ${config}`, ''].join('\n');
  t.same(errorsOf(conf('{origins: ["*", "https://a.test", "(.*\\\\.)?b\\\\.test"]}')), []);
  t.match(errorsOf(conf('{origins: ["good.test", "[bad"]}')), [/config\.origins\[1\]: '\[bad' is not a valid regex/]);
  t.match(errorsOf(conf('{methods: [GET, FETCH]}')), [/config\.methods\[1\]: expected one of: GET, HEAD/]);
});

t.test('Kong no_consumer: cors cannot be scoped to a consumer', async (t) => {
  const text = ['_format_version: "3.0"', 'consumers:', '  - username: alice', '    plugins: [{name: cors}]', ''].join('\n');
  t.match(errorsOf(text), [/consumers\[0\]\.plugins\[0\]\.name: value must be null \('cors' cannot be scoped to a consumer/]);
});
