import t from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { runCli, startGateway, tempFile, type RunningGateway } from '../helpers/cli';
import { errorsOf, snapshotOf } from '../helpers/config';

// Cases after Kong's spec/03-plugins/45-redirect/ (01-schema, 02-access, 03-integration).
let gw: RunningGateway;
let upstream: Upstream;

const config = () =>
  JSON.stringify({
    _format_version: '3.0',
    services: [{ name: 'echo', url: `http://127.0.0.1:${upstream.port}` }],
    routes: [
      { name: 'r1', hosts: ['api1.redirect.test'], service: 'echo', plugins: [{ name: 'redirect', config: { location: 'https://example.com' } }] },
      { name: 'r2', hosts: ['api2.redirect.test'], service: 'echo', plugins: [{ name: 'redirect', config: { status_code: 302, location: 'https://example.com' } }] },
      { name: 'r3', hosts: ['api3.redirect.test'], service: 'echo', plugins: [{ name: 'redirect', config: { location: 'https://example.com/path?foo=bar' } }] },
      { name: 'r4', hosts: ['api4.redirect.test'], service: 'echo', plugins: [{ name: 'redirect', config: { location: 'https://example.com/some_path?foo=bar', keep_incoming_path: true } }] },
      { name: 'keyed', hosts: ['keyed.redirect.test'], service: 'echo', plugins: [{ name: 'key-auth' }] },
    ],
    consumers: [
      { username: 'bob', keyauth_credentials: [{ key: 'bob-key-12345678' }], plugins: [{ name: 'redirect', config: { location: 'https://example.com/path?foo=bar' } }] },
      { username: 'carol', keyauth_credentials: [{ key: 'carol-key-1234567' }] },
    ],
  });

t.before(async () => {
  upstream = await startUpstream();
  gw = await startGateway(config());
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

const get = (host: string, path: string, headers: Record<string, string> = {}) => request(gw.proxyPort, path, { headers: { host, ...headers } });

t.test('spec/03-plugins/45-redirect/02-access_spec.lua: status code', async (t) => {
  const r = await get('api1.redirect.test', '/status/200');
  t.equal(r.status, 301, 'default status code');
  t.equal(r.body, 'redirecting', "Kong's body");
  t.equal(r.headers['content-type'], undefined, 'and no content type');
  t.equal((await get('api2.redirect.test', '/status/200')).status, 302, 'custom status code');
  t.equal(upstream.seen.length, 0, 'nothing reaches the upstream');
});

t.test('spec/03-plugins/45-redirect/02-access_spec.lua: location header', async (t) => {
  t.equal((await get('api3.redirect.test', '/status/200')).headers.location, 'https://example.com/path?foo=bar', 'supports path and query params in location');
  t.equal((await get('api4.redirect.test', '/status/200?keep=this')).headers.location, 'https://example.com/status/200?keep=this', 'keeps the existing redirect URL');
  t.equal((await get('api4.redirect.test', '/a%20b/c"d{x}')).headers.location, 'https://example.com/a%20b/c%22d%7Bx%7D', 'the path is escaped as a URL path (ada), without a query');
});

t.test('spec/03-plugins/45-redirect/03-integration_spec.lua: can be applied on a consumer', async (t) => {
  const r = await get('keyed.redirect.test', '/request', { apikey: 'bob-key-12345678' });
  t.equal(r.status, 301);
  t.equal(r.headers.location, 'https://example.com/path?foo=bar');
  t.equal((await get('keyed.redirect.test', '/request', { apikey: 'carol-key-1234567' })).status, 200, 'other consumers reach the service');
});

t.test('spec/03-plugins/45-redirect/01-schema_spec.lua', async (t) => {
  const plugin = (c: object) => JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'redirect', config: c }] });
  t.same(errorsOf(plugin({ status_code: 404, location: 'https://example.com' })), [], 'should accept a valid status_code');
  t.same(snapshotOf(plugin({ location: 'https://example.com' })).entities.plugins[0].config, { location: 'https://example.com', status_code: 301, keep_incoming_path: false }, 'should accept a valid location; defaults');
  t.match(errorsOf(plugin({ status_code: 'abcd', location: 'https://example.com' })).join('\n'), /config\.status_code: expected an integer/, 'status_code should only accept integers');
  t.match(errorsOf(plugin({ status_code: 99, location: 'https://example.com' })).join('\n'), /config\.status_code: value should be between 100 and 599/, 'status_code < 100');
  t.match(errorsOf(plugin({ status_code: 600, location: 'https://example.com' })).join('\n'), /config\.status_code: value should be between 100 and 599/, 'status_code > 599');
  t.match(errorsOf(plugin({ status_code: 301 })).join('\n'), /config\.location: required field missing/, 'location is required');
  t.match(errorsOf(plugin({ location: 'definitely_not_a_url' })).join('\n'), /config\.location: missing host in url/, 'location must be a url');
  t.match(errorsOf(plugin({ location: '//example.com/x' })).join('\n'), /config\.location: missing scheme in url/);
  t.match(errorsOf(plugin({ location: 'https://example.com', keep_incoming_path: 'invalid' })).join('\n'), /config\.keep_incoming_path: expected a boolean/, 'incoming_path must be a boolean');
});

t.test('gateway explain and gateway routes show the redirect answering', async (t) => {
  const file = tempFile('kong.yml', config());
  const explain = runCli(['explain', '-c', file, '--format', 'json', 'http://api3.redirect.test/x']);
  t.equal(explain.status, 0, explain.stderr);
  const e = JSON.parse(explain.stdout);
  t.same(e.plugins.map((p: { name: string; result: string }) => [p.name, p.result]), [['redirect', 'answered 301']]);
  t.equal(e.outcome.headers.location, 'https://example.com/path?foo=bar');
  const routes = runCli(['routes', '-c', file]);
  t.match(routes.stdout, /r1[^\n]*no: redirect/);
});
