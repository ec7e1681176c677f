import t from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { rawExchange } from '../helpers/raw';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { errorsOf } from '../helpers/config';

const SPEC = 'spec/03-plugins/12-request-size-limiting/01-access_spec.lua';
const TEST_SIZE = 2;
const UNITS = { megabytes: 2 ** 20, kilobytes: 2 ** 10, bytes: 1 } as const;
const MB = UNITS.megabytes;
const KB = UNITS.kilobytes;

let gw: RunningGateway;
let upstream: Upstream;

t.before(async () => {
  upstream = await startUpstream((req, res, body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ received: body.length }));
  });
  const limited = (host: string, config: object, more: object[] = []) => ({
    name: host,
    hosts: [host],
    service: 'up',
    plugins: [{ name: 'request-size-limiting', config }, ...more],
  });
  gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      services: [{ name: 'up', url: `http://127.0.0.1:${upstream.port}` }],
      routes: [
        limited('limit.test', { allowed_payload_size: TEST_SIZE }),
        limited('required.test', { allowed_payload_size: TEST_SIZE, require_content_length: true }),
        ...Object.keys(UNITS).map((unit) => limited(`limit_${unit}.test`, { allowed_payload_size: TEST_SIZE, size_unit: unit })),
        limited('echo.test', { allowed_payload_size: 10, size_unit: 'bytes' }, [{ name: 'request-termination', config: { status_code: 200, echo: true } }]),
      ],
    }),
  );
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

const post = (host: string, body: string, headers: Record<string, string> = {}) => request(gw.proxyPort, '/request', { method: 'POST', headers: { host, ...headers }, body });
/** A chunked body on a GET, as Kong's spec sends it. */
const chunked = (host: string, size: number, headers: Record<string, string> = {}) =>
  request(gw.proxyPort, '/request', { method: 'GET', headers: { host, 'transfer-encoding': 'chunked', ...headers }, chunks: [Buffer.alloc(Math.floor(size / 2), 'a'), Buffer.alloc(size - Math.floor(size / 2), 'a')] });

function refusedWith(t: Tap.Test, r: { status: number; json(): any }, status: number) {
  t.equal(r.status, status);
  t.equal(r.json().message, 'Request size limit exceeded');
}

t.test(`${SPEC}: with Content-Length: works if size is lower than limit (with and without Expect)`, async (t) => {
  const body = 'a'.repeat(TEST_SIZE * MB);
  const r = await post('limit.test', body);
  t.equal(r.status, 200);
  t.equal(r.json().received, body.length);
  t.equal((await post('limit.test', body, { expect: '100-continue' })).status, 200);
});

t.test(`${SPEC}: with Content-Length: blocks if size is greater than limit (413; 417 with Expect)`, async (t) => {
  const before = upstream.seen.length;
  const body = 'a'.repeat(TEST_SIZE * MB + 1);
  refusedWith(t, await post('limit.test', body), 413);
  refusedWith(t, await post('limit.test', body, { expect: '100-continue' }), 417);
  t.equal(upstream.seen.length, before, 'nothing reached the upstream');
});

t.test(`${SPEC}: with Content-Length: each size_unit`, async (t) => {
  for (const [unit, factor] of Object.entries(UNITS)) {
    refusedWith(t, await post(`limit_${unit}.test`, 'a'.repeat(TEST_SIZE * factor + 1)), 413);
    t.equal((await post(`limit_${unit}.test`, 'a'.repeat(TEST_SIZE * factor - 1))).status, 200, `${unit}: under the limit`);
  }
});

t.test(`${SPEC}: chunked: works if size is lower than limit (with and without Expect)`, async (t) => {
  const r = await chunked('limit.test', TEST_SIZE * MB);
  t.equal(r.status, 200);
  t.equal(r.json().received, TEST_SIZE * MB, 'the whole body streamed upstream');
  t.equal((await chunked('limit.test', TEST_SIZE * MB, { expect: '100-continue' })).status, 200);
  t.equal((await chunked('limit_kilobytes.test', TEST_SIZE * KB)).status, 200);
});

t.test(`${SPEC}: chunked: blocks if size is greater than limit (413; 417 with Expect)`, async (t) => {
  refusedWith(t, await chunked('limit.test', TEST_SIZE * MB + 1), 413);
  refusedWith(t, await chunked('limit.test', TEST_SIZE * MB + 1, { expect: '100-continue' }), 417);
  refusedWith(t, await chunked('limit_kilobytes.test', TEST_SIZE * KB + 1), 413);
  refusedWith(t, await chunked('limit_kilobytes.test', TEST_SIZE * KB + 1, { expect: '100-continue' }), 417);
});

t.test(`${SPEC}: chunked: each size_unit`, async (t) => {
  for (const [unit, factor] of Object.entries(UNITS)) {
    refusedWith(t, await chunked(`limit_${unit}.test`, TEST_SIZE * factor + 1), 413);
    t.equal((await chunked(`limit_${unit}.test`, TEST_SIZE * factor)).status, 200, `${unit}: at the limit`);
  }
});

t.test('a chunked body is refused as soon as its count passes the limit, before the client has sent it all', async (t) => {
  const over = TEST_SIZE * KB + 1;
  const head = 'POST /request HTTP/1.1\r\nHost: limit_kilobytes.test\r\nTransfer-Encoding: chunked\r\n\r\n';
  // The last chunk never comes: the answer cannot have waited for the whole body.
  const r = await rawExchange(gw.proxyPort, [head, `${over.toString(16)}\r\n${'a'.repeat(over)}\r\n`], { waitMs: 3000 });
  t.equal(r.status, 413);
  t.equal(JSON.parse(r.body).message, 'Request size limit exceeded');
});

t.test(`${SPEC}: Content-Length header required: blocks if header is not provided (411)`, async (t) => {
  const r = await request(gw.proxyPort, '/request', { headers: { host: 'required.test' } });
  t.equal(r.status, 411);
  t.equal(r.json().message, 'A valid Content-Length header is required');
  t.equal((await post('required.test', 'small')).status, 200, 'with a Content-Length');
  t.equal((await chunked('required.test', 100)).status, 200, 'chunked bodies are counted instead');
});

t.test('a later plugin reading a chunked body (request-termination echo) meets the limit as a 413', async (t) => {
  refusedWith(t, await chunked('echo.test', 11), 413);
  const ok = await chunked('echo.test', 10);
  t.equal(ok.status, 200);
  t.equal(ok.json().request.raw_body, 'a'.repeat(10));
});

t.test('schema: size_unit from the list, allowed_payload_size an integer; defaults 128 megabytes', async (t) => {
  const conf = (config: string) => ['_format_version: "3.0"', 'plugins:', '  - name: request-size-limiting', `    config: ${config}`, ''].join('\n');
  t.same(errorsOf(conf('{}')), []);
  t.match(errorsOf(conf('{size_unit: gigabytes}')), [/config\.size_unit: expected one of: megabytes, kilobytes, bytes/]);
  t.match(errorsOf(conf('{allowed_payload_size: 1.5}')), [/config\.allowed_payload_size: expected an integer/]);
});
