import t from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { runCli, startGateway, tempFile, type RunningGateway } from '../helpers/cli';
import { errorsOf } from '../helpers/config';
import { waitFor } from '../helpers/wait';

const SPEC = 'spec/03-plugins/17-ip-restriction/02-access_spec.lua';
const TRUST_ALL = ['--trusted-ips', '0.0.0.0/0, ::/0', '--real-ip-recursive'];

let upstream: Upstream;
/** Kong's first and third setups: X-Forwarded-For from any peer, recursive. */
let xff: RunningGateway;
/** Kong's second setup: the default X-Real-IP header, recursive. */
let realIp: RunningGateway;
/** No trusted proxy: headers change nothing. */
let plain: RunningGateway;

const restricted = (host: string, config: object) => ({ name: host, hosts: [host], service: 'up', plugins: [{ name: 'ip-restriction', config }] });

function configWith(routes: object[], extra: object = {}): string {
  return JSON.stringify({ _format_version: '3.0', services: [{ name: 'up', url: `http://127.0.0.1:${upstream.port}` }], routes, ...extra });
}

t.before(async () => {
  upstream = await startUpstream();
  xff = await startGateway(
    configWith(
      [
        restricted('ip-restriction1.test', { deny: ['127.0.0.1', '127.0.0.2'] }),
        restricted('ip-restriction2.test', { deny: ['127.0.0.2'] }),
        restricted('ip-restriction3.test', { allow: ['127.0.0.2'] }),
        restricted('ip-restriction4.test', { allow: ['127.0.0.1'] }),
        restricted('ip-restriction5.test', { deny: ['127.0.0.0/24'] }),
        restricted('ip-restriction6.test', { allow: ['127.0.0.4'] }),
        restricted('ip-restriction7.test', { deny: ['127.0.0.4'] }),
        restricted('ip-restriction8.test', { allow: ['0.0.0.0/0'] }),
        restricted('ip-restriction9.test', { allow: ['127.0.0.1'], deny: ['127.0.0.1'] }),
        restricted('ip-restriction10.test', { allow: ['127.0.0.0/24'], deny: ['127.0.0.1'] }),
        restricted('ip-restriction11.test', { allow: ['127.0.0.0/24'], deny: ['127.0.0.0/24'] }),
        restricted('ip-restriction12.test', { deny: ['127.0.0.0/24'], status: 401, message: 'Forbidden' }),
        restricted('v6-deny.test', { deny: ['::4'] }),
        restricted('v6-allow.test', { allow: ['::4'] }),
        { name: 'limited', hosts: ['limited.test'], service: 'up', plugins: [{ name: 'rate-limiting', config: { minute: 1, limit_by: 'ip' } }] },
        { name: 'keyed', hosts: ['keyed.test'], service: 'up', plugins: [{ name: 'key-auth' }] },
      ],
      { consumers: [{ username: 'alice', keyauth_credentials: [{ key: 'alice-key' }], plugins: [{ name: 'ip-restriction', config: { deny: ['192.0.2.0/24'] } }] }] },
    ),
    { args: [...TRUST_ALL, '--real-ip-header', 'X-Forwarded-For'] },
  );
  realIp = await startGateway(
    configWith([
      restricted('ip-restriction1.test', { deny: ['::1', '::2'] }),
      restricted('ip-restriction2.test', { deny: ['::2'] }),
      restricted('ip-restriction3.test', { deny: ['fe80::/8'] }),
      restricted('ip-restriction4.test', { allow: ['::2'] }),
      restricted('ip-restriction5.test', { allow: ['::1'] }),
      restricted('ip-restriction6.test', { allow: ['::/0'] }),
      restricted('ip-restriction7.test', { allow: ['::1'], deny: ['::1'] }),
      restricted('ip-restriction8.test', { allow: ['::1/128'], deny: ['::1'] }),
      restricted('ip-restriction9.test', { allow: ['::1/128'], deny: ['::1/128'] }),
    ]),
    { args: TRUST_ALL },
  );
  plain = await startGateway(configWith([restricted('ip-restriction6.test', { allow: ['127.0.0.4'] }), restricted('ip-restriction7.test', { deny: ['127.0.0.4'] })]));
});
t.teardown(async () => {
  await Promise.all([xff.stop(), realIp.stop(), plain.stop()]);
  await upstream.close();
});

const get = (gw: RunningGateway, host: string, headers: Record<string, string> = {}) => request(gw.proxyPort, '/request', { headers: { host, ...headers } });

async function refused(t: Tap.Test, gw: RunningGateway, host: string, headers: Record<string, string> = {}, status = 403) {
  const r = await get(gw, host, headers);
  t.equal(r.status, status, `${host} ${JSON.stringify(headers)}: ${status}`);
  return r;
}

async function passed(t: Tap.Test, gw: RunningGateway, host: string, headers: Record<string, string> = {}, client?: string) {
  const r = await get(gw, host, headers);
  t.equal(r.status, 200, `${host} ${JSON.stringify(headers)}: 200`);
  if (client !== undefined) t.equal(r.json().headers['x-real-ip'], client, `the upstream's X-Real-IP is ${client}`);
  return r;
}

t.test(`${SPEC}: deny blocks a denied IP with Kong's message, which names the address`, async (t) => {
  const r = await refused(t, xff, 'ip-restriction1.test');
  t.equal(r.json().message, 'IP address not allowed: 127.0.0.1');
  t.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  await refused(t, xff, 'ip-restriction5.test');
});

t.test(`${SPEC}: blocks a request when the IP is denied with status/message`, async (t) => {
  const r = await refused(t, xff, 'ip-restriction12.test', {}, 401);
  t.equal(r.json().message, 'Forbidden');
});

t.test(`${SPEC}: allows a request when the IP is not denied`, async (t) => {
  await passed(t, xff, 'ip-restriction2.test', {}, '127.0.0.1');
});

t.test(`${SPEC}: deny takes precedence over allow (IP, CIDR)`, async (t) => {
  await refused(t, xff, 'ip-restriction9.test');
  await refused(t, xff, 'ip-restriction10.test');
  await refused(t, xff, 'ip-restriction11.test');
});

t.test(`${SPEC}: deny with X-Forwarded-For`, async (t) => {
  await passed(t, xff, 'ip-restriction7.test', {}, '127.0.0.1');
  await passed(t, xff, 'ip-restriction7.test', { 'x-forwarded-for': '127.0.0.3' }, '127.0.0.3');
  await refused(t, xff, 'ip-restriction7.test', { 'x-forwarded-for': '127.0.0.4' });
});

t.test(`${SPEC}: allow`, async (t) => {
  await refused(t, xff, 'ip-restriction3.test');
  await passed(t, xff, 'ip-restriction4.test');
  await refused(t, xff, 'ip-restriction6.test');
  await refused(t, xff, 'ip-restriction6.test', { 'x-forwarded-for': '127.0.0.3' });
  await passed(t, xff, 'ip-restriction6.test', { 'x-forwarded-for': '127.0.0.4' });
  await passed(t, xff, 'ip-restriction6.test', { 'x-forwarded-for': '127.0.0.4, 127.0.0.3' }, '127.0.0.4');
});

t.test(`${SPEC}: #regression handles a CIDR entry with 0.0.0.0/0`, async (t) => {
  await passed(t, xff, 'ip-restriction8.test');
});

t.test(`${SPEC}: IPv6 through X-Forwarded-For, recursive`, async (t) => {
  await passed(t, xff, 'v6-deny.test', { 'x-forwarded-for': '::3' }, '::3');
  await refused(t, xff, 'v6-deny.test', { 'x-forwarded-for': '::4' });
  await refused(t, xff, 'v6-deny.test', { 'x-forwarded-for': '::4, ::3' });
  await passed(t, xff, 'v6-deny.test', { 'x-forwarded-for': '::3, ::4' }, '::3');
  await refused(t, xff, 'v6-allow.test', { 'x-forwarded-for': '::3' });
  await passed(t, xff, 'v6-allow.test', { 'x-forwarded-for': '::4' }, '::4');
  await passed(t, xff, 'v6-allow.test', { 'x-forwarded-for': '::4, ::3' }, '::4');
  await refused(t, xff, 'v6-allow.test', { 'x-forwarded-for': '::3, ::4' });
});

t.test(`${SPEC}: IPv6 through X-Real-IP (Kong's default real_ip_header)`, async (t) => {
  const v6 = { 'x-real-ip': '::1' };
  await refused(t, realIp, 'ip-restriction1.test', v6);
  await passed(t, realIp, 'ip-restriction2.test', v6, '::1');
  await refused(t, realIp, 'ip-restriction3.test', { 'x-real-ip': 'fe80::1' });
  await refused(t, realIp, 'ip-restriction4.test', v6);
  await passed(t, realIp, 'ip-restriction5.test', v6, '::1');
  await passed(t, realIp, 'ip-restriction6.test', v6, '::1');
  await refused(t, realIp, 'ip-restriction7.test', v6);
  await refused(t, realIp, 'ip-restriction8.test', v6);
  await refused(t, realIp, 'ip-restriction9.test');
  // X-Forwarded-For is not the configured header here.
  await refused(t, realIp, 'ip-restriction5.test', { 'x-forwarded-for': '::1' });
});

t.test('without --trusted-ips (the default) no header changes the client address', async (t) => {
  await refused(t, plain, 'ip-restriction6.test', { 'x-forwarded-for': '127.0.0.4', 'x-real-ip': '127.0.0.4' });
  const r = await passed(t, plain, 'ip-restriction7.test', { 'x-forwarded-for': '127.0.0.4', 'x-real-ip': '127.0.0.4' }, '127.0.0.1');
  t.equal(r.json().headers['x-forwarded-for'], '127.0.0.4, 127.0.0.1', 'the client’s X-Forwarded-For is extended with the peer');
});

t.test('a consumer-scoped ip-restriction applies once key-auth identified the consumer', async (t) => {
  await passed(t, xff, 'keyed.test', { apikey: 'alice-key', 'x-forwarded-for': '198.51.100.1' });
  const r = await refused(t, xff, 'keyed.test', { apikey: 'alice-key', 'x-forwarded-for': '192.0.2.5' });
  t.equal(r.json().message, 'IP address not allowed: 192.0.2.5');
});

t.test("rate-limiting's limit_by ip and the access log use the client address a trusted proxy named", async (t) => {
  t.equal((await get(xff, 'limited.test', { 'x-forwarded-for': '203.0.113.1' })).status, 200);
  t.equal((await get(xff, 'limited.test', { 'x-forwarded-for': '203.0.113.1' })).status, 429);
  t.equal((await get(xff, 'limited.test', { 'x-forwarded-for': '203.0.113.2' })).status, 200, 'another client has its own counter');
  const logged = await waitFor('the access log line', () => {
    const lines = xff.output().trim().split('\n').map((l) => JSON.parse(l));
    return lines.find((l) => l.client_ip === '203.0.113.2' && l.route === 'limited');
  });
  t.equal(logged.status, 200, 'logged with its forwarded address');
});

t.test('a trusted proxy’s X-Forwarded-Proto/Host/Port/Path pass on (Kong); an untrusted client’s are replaced', async (t) => {
  const sent = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', 'x-forwarded-port': '443', 'x-forwarded-path': '/outer' };
  const trusted = (await get(xff, 'ip-restriction2.test', sent)).json().headers;
  t.match(trusted, sent);
  const untrusted = (await get(plain, 'ip-restriction7.test', sent)).json().headers;
  t.equal(untrusted['x-forwarded-proto'], 'http');
  t.equal(untrusted['x-forwarded-host'], 'ip-restriction7.test');
  t.equal(untrusted['x-forwarded-path'], '/request');
});

t.test('KONG_TRUSTED_IPS, KONG_REAL_IP_HEADER and KONG_REAL_IP_RECURSIVE; flags win', async (t) => {
  const gw = await startGateway(configWith([restricted('ip-restriction6.test', { allow: ['127.0.0.4'] })]), {
    env: { ...process.env, KONG_TRUSTED_IPS: '127.0.0.1', KONG_REAL_IP_HEADER: 'X-From-Env', KONG_REAL_IP_RECURSIVE: 'off' },
    args: ['--real-ip-header', 'X-From-Flag'],
  });
  t.teardown(() => gw.stop());
  await passed(t, gw, 'ip-restriction6.test', { 'x-from-flag': '127.0.0.4' }, '127.0.0.4');
  await refused(t, gw, 'ip-restriction6.test', { 'x-from-env': '127.0.0.4' });
  await refused(t, gw, 'ip-restriction6.test', { 'x-from-flag': '127.0.0.4, 127.0.0.1' }, 403);
});

t.test('a bad --trusted-ips entry stops the start with its name', async (t) => {
  const file = tempFile('kong.yml', '_format_version: "3.0"\n');
  const r = runCli(['start', '-c', file, '--proxy-listen', '127.0.0.1:0', '--admin-listen', 'off', '--trusted-ips', '10.0.0.0/8,nope']);
  t.equal(r.status, 1);
  t.match(r.stderr, /invalid ip or cidr range: 'nope'/);
});

t.test('spec/03-plugins/17-ip-restriction/01-schema_spec.lua: schema errors', async (t) => {
  const conf = (config: string) => ['_format_version: "3.0"', 'plugins:', '  - name: ip-restriction', `    config: ${config}`, ''].join('\n');
  t.same(errorsOf(conf('{allow: [127.0.0.1/32, 127.0.0.2/32], status: 403, message: Forbidden}')), []);
  t.same(errorsOf(conf('{allow: [127.0.0.1/8], deny: [127.0.0.2/32]}')), []);
  t.same(errorsOf(conf('{allow: ["::/0", "::/1", "::/128"]}')), []);
  t.match(errorsOf(conf('{allow: 12}')), [/config\.allow: expected an array/]);
  t.match(errorsOf(conf('{allow: [127.0.0.1/32, 127.0.0.2/32, hello]}')), [/config\.allow\[2\]: invalid ip or cidr range: 'hello'/]);
  t.match(errorsOf(conf('{deny: ["0.0.0.0/a", "0.0.0.0/33", "::1/129"]}')), [
    /config\.deny\[0\]: invalid ip or cidr range: '0\.0\.0\.0\/a'/,
    /config\.deny\[1\]: invalid ip or cidr range: '0\.0\.0\.0\/33'/,
    /config\.deny\[2\]: invalid ip or cidr range: '::1\/129'/,
  ]);
  t.match(errorsOf(conf('{deny: [], allow: []}')), [/config: at least one of these fields must be non-empty: 'config\.allow', 'config\.deny'/]);
  t.match(errorsOf(conf('{deny: null, allow: [0.0.0.0/0]}')), [], 'null means not set');
  t.match(errorsOf(conf('{deny: [1.2.3.4], status: 200}')), [/config\.status: value should be between 400 and 599/]);
});
