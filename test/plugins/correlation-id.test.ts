import t from 'tap';
import { waitFor } from '../helpers/wait';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { errorsOf, snapshotOf } from '../helpers/config';
import { checkConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';

// Cases after Kong's spec/03-plugins/11-correlation-id/01-access_spec.lua (and 02-schema_spec.lua for defaults).
const SPEC = 'spec/03-plugins/11-correlation-id/01-access_spec.lua';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_COUNTER = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}#(\d+)$/;
const TRACKER = /^\d+\.\d+\.\d+\.\d+-\d+-\d+-\d+-\d+-\d{10}\.\d{3}$/;

let gw: RunningGateway;
let upstream: Upstream;

t.before(async () => {
  upstream = await startUpstream();
  const route = (host: string, plugins: object[], service = 'echo') => ({ name: host, hosts: [host], service, plugins });
  const cid = (config: object = {}) => ({ name: 'correlation-id', config });
  gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      services: [
        { name: 'echo', url: `http://127.0.0.1:${upstream.port}` },
        // Nothing listens on port 9 of loopback: the connection is refused (502).
        { name: 'down', url: 'http://127.0.0.1:9', connect_timeout: 1000 },
      ],
      routes: [
        route('correlation1.test', [cid()]),
        route('correlation2.test', [cid({ header_name: 'Foo-Bar-Id' })]),
        route('correlation3.test', [cid({ generator: 'uuid', echo_downstream: true })]),
        route('correlation-tracker.test', [cid({ generator: 'tracker' })]),
        route('correlation5.test', [cid({ generator: 'uuid', echo_downstream: true }), { name: 'request-termination', config: { status_code: 418, message: "I'm a teapot" } }]),
        route('correlation-timeout.test', [cid({ generator: 'uuid', echo_downstream: true })], 'down'),
        route('auth-first.test', [cid({ echo_downstream: true }), { name: 'key-auth' }]),
        route('x-request-id.test', [cid({ header_name: 'X-Request-ID', generator: 'uuid', echo_downstream: true })]),
        { name: 'consumer.test', hosts: ['consumer.test'], service: 'echo', plugins: [{ name: 'key-auth' }] },
        { name: 'plain.test', hosts: ['plain.test'], service: 'echo' },
      ],
      consumers: [{ username: 'alice', keyauth_credentials: [{ key: 'alice-key-123456' }], plugins: [cid({ header_name: 'X-Consumer-Corr', echo_downstream: true })] }],
    }),
  );
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

async function through(host: string, headers: Record<string, string> = {}) {
  const r = await request(gw.proxyPort, '/request', { headers: { host, ...headers } });
  return { res: r, seen: upstream.seen[upstream.seen.length - 1] };
}

t.test("kong/pdk/log.lua serialize's correlation_id: the access log line has the request's correlation id", async (t) => {
  const { seen } = await through('correlation2.test', { 'x-request-id': 'line-of-correlation2' });
  const id = seen.headers['foo-bar-id'] as string;
  const line = await waitFor('the access line', () => gw.output().split('\n').find((l) => l.includes('"line-of-correlation2"')));
  t.equal(JSON.parse(line).correlation_id, id);
  await through('plain.test', { 'x-request-id': 'line-of-plain' });
  const plain = await waitFor('the access line', () => gw.output().split('\n').find((l) => l.includes('"line-of-plain"')));
  t.notOk('correlation_id' in JSON.parse(plain), 'absent where the plugin did not run');
});

t.test(`${SPEC}: uuid-worker generator increments the counter part`, async (t) => {
  const a = (await through('correlation1.test')).seen.headers['kong-request-id'] as string;
  const b = (await through('correlation1.test')).seen.headers['kong-request-id'] as string;
  t.match(a, UUID_COUNTER);
  t.match(b, UUID_COUNTER);
  t.equal(a.split('#')[0], b.split('#')[0], 'one UUID per process');
  t.equal(Number(UUID_COUNTER.exec(b)![1]), Number(UUID_COUNTER.exec(a)![1]) + 1);
});

t.test(`${SPEC}: uuid generator generates a unique UUID for every request`, async (t) => {
  const a = (await through('correlation3.test')).seen.headers['kong-request-id'];
  const b = (await through('correlation3.test')).seen.headers['kong-request-id'];
  t.match(a, UUID);
  t.match(b, UUID);
  t.not(a, b);
});

t.test(`${SPEC}: tracker generator generates a unique tracker id for every request`, async (t) => {
  const a = (await through('correlation-tracker.test')).seen.headers['kong-request-id'] as string;
  const b = (await through('correlation-tracker.test')).seen.headers['kong-request-id'] as string;
  t.match(a, TRACKER);
  t.match(b, TRACKER);
  t.not(a, b);
  t.ok(a.startsWith(`127.0.0.1-${gw.proxyPort}-${gw.proc.pid}-`), 'server address, port, pid first');
});

t.test(`${SPEC}: config options`, async (t) => {
  const { res, seen } = await through('correlation3.test');
  t.match(seen.headers['kong-request-id'], UUID);
  t.equal(res.headers['kong-request-id'], seen.headers['kong-request-id'], 'echo_downstream sends uuid back to client');
  const down = await request(gw.proxyPort, '/request', { headers: { host: 'correlation-timeout.test' } });
  t.equal(down.status, 502, 'echo_downstream sends uuid back to client even when upstream fails');
  t.match(down.headers['kong-request-id'], UUID);
  const two = await through('correlation2.test');
  t.equal(two.res.headers['kong-request-id'], undefined, 'echo_downstream does not send uuid back to client if not asked');
  t.equal(two.res.headers['foo-bar-id'], undefined);
  t.match(two.seen.headers['foo-bar-id'], UUID_COUNTER, 'uses a custom header name');
});

t.test(`${SPEC}: a client-given id`, async (t) => {
  t.equal((await through('correlation2.test', { 'Foo-Bar-Id': 'foobar' })).seen.headers['foo-bar-id'], 'foobar', 'preserves an already existing header');
  t.match((await through('correlation2.test', { 'Foo-Bar-Id': '' })).seen.headers['foo-bar-id'], UUID_COUNTER, 'does not preserve an already existing empty header');
  t.match((await through('correlation2.test', { 'Foo-Bar-Id': ' ' })).seen.headers['foo-bar-id'], UUID_COUNTER, 'does not preserve an already existing header with space only');
});

t.test(`${SPEC}: echo_downstream when the request is answered by a plugin`, async (t) => {
  const r = await request(gw.proxyPort, '/request', { headers: { host: 'correlation5.test' } });
  t.equal(r.status, 418);
  t.match(r.headers['kong-request-id'], UUID, 'executes with echo_downstream when access did not execute');
  const mine = await request(gw.proxyPort, '/request', { headers: { host: 'correlation5.test', 'kong-request-id': 'my very personal id' } });
  t.equal(mine.headers['kong-request-id'], 'my very personal id', 'echoes incoming with echo_downstream when access did not execute');
  const refused = await request(gw.proxyPort, '/request', { headers: { host: 'auth-first.test' } });
  t.equal(refused.status, 401);
  t.match(refused.headers['kong-request-id'], UUID_COUNTER, 'a 401 from an auth plugin carries it too');
});

t.test("header_name X-Request-ID: the gateway's own request id is the correlation id (client's kept, else generated)", async (t) => {
  const given = await through('x-request-id.test', { 'X-Request-Id': 'client-id-1' });
  t.equal(given.seen.headers['x-request-id'], 'client-id-1');
  t.equal(given.res.headers['x-request-id'], 'client-id-1');
  const none = await through('x-request-id.test');
  t.equal(none.seen.headers['x-request-id'], none.res.headers['x-kong-request-id'], 'one id upstream, to the client and in the logs');
  t.equal(none.res.headers['x-request-id'], none.res.headers['x-kong-request-id']);
});

t.test('consumer scope: it runs before key-auth, so only its response part applies (as Kong: access did not execute)', async (t) => {
  const r = await through('consumer.test', { apikey: 'alice-key-123456' });
  t.equal(r.seen.headers['x-consumer-corr'], undefined, 'the upstream gets none');
  t.match(r.res.headers['x-consumer-corr'], UUID_COUNTER, 'echo_downstream generates one for the response');
  t.equal((await request(gw.proxyPort, '/request', { headers: { host: 'consumer.test' } })).headers['x-consumer-corr'], undefined, 'not for other callers');
  t.equal((await through('plain.test')).seen.headers['kong-request-id'], undefined, 'nothing on a route without it');
});

t.test('spec/03-plugins/11-correlation-id/02-schema_spec.lua: defaults and fields', async (t) => {
  const config = (c: object) => JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'correlation-id', config: c }] });
  const conf = snapshotOf(config({})).entities.plugins[0].config;
  t.same(conf, { header_name: 'Kong-Request-ID', generator: 'uuid#counter', echo_downstream: false });
  t.match(errorsOf(config({ generator: 'nope' })).join('\n'), /config\.generator: expected one of: uuid, uuid#counter, tracker/);
  t.match(errorsOf(config({ header_name: 'bad name' })).join('\n'), /config\.header_name: invalid value 'bad name'/);
  const warnings = checkConfigText(config({ header_name: 'X-Kong-Request-Id' }), 'kong.yml').warnings.map(formatIssue).join('\n');
  t.match(warnings, /config\.header_name: .*X-Kong-Request-Id .*replaces this one/);
});
