import t from 'tap';
import { Agent } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { startGateway, tempFile, type RunningGateway } from '../helpers/cli';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { waitFor, writeByRename } from '../helpers/wait';
import { h2Connect, h2Request, httpsRequest, listenerPorts, makeCa, makeLeaf, servedCertificate, type Pem } from '../helpers/tls';

const q = (s: string) => JSON.stringify(s);
const ca = makeCa();
const exact = makeLeaf(ca, { names: ['api.example.com'] });
const wildcard = makeLeaf(ca, { names: ['*.example.com'] });
const suffix = makeLeaf(ca, { names: ['shop.example.org'] });
const dualEc = makeLeaf(ca, { names: ['dual.example.net'] });
const dualRsa = makeLeaf(ca, { names: ['dual.example.net'], kind: 'rsa' });
const fallback = makeLeaf(ca, { names: ['default.test'] });

function config(apiCert: Pem, upstreamPort: number): string {
  return [
    '_format_version: "3.0"',
    'certificates:',
    `  - {cert: ${q(apiCert.cert)}, key: ${q(apiCert.key)}, snis: [{name: api.example.com}]}`,
    `  - {cert: ${q(wildcard.cert)}, key: ${q(wildcard.key)}, snis: [{name: "*.example.com"}]}`,
    `  - {cert: ${q(suffix.cert)}, key: ${q(suffix.key)}, snis: [{name: "shop.example.*"}]}`,
    `  - {cert: ${q(dualEc.cert)}, key: ${q(dualEc.key)}, cert_alt: ${q(dualRsa.cert)}, key_alt: ${q(dualRsa.key)}, snis: [{name: dual.example.net}]}`,
    'services:',
    `  - name: up`,
    `    url: http://127.0.0.1:${upstreamPort}`,
    '    routes:',
    '      - {name: any, paths: [/]}',
    '      - name: by-sni',
    '        paths: [/sni]',
    '        protocols: [https]',
    '        snis: [api.example.com]',
    '        plugins: [{name: request-termination, config: {status_code: 200, message: sni route}}]',
    '      - {name: secure, paths: [/secure], protocols: [https]}',
    '      - {name: moved, paths: [/moved], protocols: [https], https_redirect_status_code: 308}',
    '      - name: plugged',
    '        paths: [/plugged]',
    '        plugins:',
    '          - {name: key-auth}',
    '          - {name: rate-limiting, config: {minute: 100, policy: local}}',
    '          - {name: request-transformer, config: {add: {headers: ["x-added:yes"]}}}',
    '          - {name: cors, config: {origins: ["https://app.example.com"]}}',
    '      - name: more-basic',
    '        paths: [/more/basic]',
    '        plugins: [{name: basic-auth}, {name: acl, config: {allow: [admins]}}]',
    '      - name: more-cache',
    '        paths: [/more/cache]',
    '        plugins: [{name: proxy-cache, config: {strategy: memory, content_type: [application/json]}}]',
    '      - name: more-size',
    '        paths: [/more/size]',
    '        plugins: [{name: request-size-limiting, config: {allowed_payload_size: 10, size_unit: bytes}}]',
    '      - name: more-deny',
    '        paths: [/more/deny]',
    '        plugins: [{name: ip-restriction, config: {deny: [127.0.0.1]}}]',
    '      - name: more-transform',
    '        paths: [/more/transform]',
    '        plugins:',
    '          - {name: response-transformer, config: {add: {headers: ["x-resp:1"]}}}',
    '          - {name: correlation-id, config: {header_name: X-Trace, echo_downstream: true}}',
    'consumers:',
    '  - username: alice',
    '    keyauth_credentials: [{key: alice-key-0123456789}]',
    '    basicauth_credentials: [{username: alice, password: wonderland}]',
    '    acls: [{group: admins}]',
    '',
  ].join('\n');
}

let upstream: Upstream;
let gw: RunningGateway;
let ports: ReturnType<typeof listenerPorts>;

t.before(async () => {
  upstream = await startUpstream();
  const certFile = tempFile('default.crt', fallback.cert);
  const keyFile = tempFile('default.key', fallback.key);
  gw = await startGateway(config(exact, upstream.port), {
    args: ['--proxy-listen', '127.0.0.1:0, 127.0.0.1:0 ssl, 127.0.0.1:0 ssl http2 reuseport backlog=16384', '--ssl-cert', certFile, '--ssl-cert-key', keyFile],
  });
  ports = listenerPorts(gw.logs());
});

t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

t.test('kong/runloop/certificate.lua: exact name, then *.x, then x.*, then the default certificate', async (t) => {
  const [ssl] = ports.ssl;
  t.equal((await servedCertificate(ssl, 'api.example.com')).cn, 'api.example.com');
  t.equal((await servedCertificate(ssl, 'API.Example.COM')).cn, 'api.example.com', 'names compare case-insensitively');
  t.equal((await servedCertificate(ssl, 'www.example.com')).cn, '*.example.com');
  t.equal((await servedCertificate(ssl, 'shop.example.org')).cn, 'shop.example.org', 'example.* matches the last label');
  t.equal((await servedCertificate(ssl, 'a.b.example.com')).cn, 'default.test', 'the prefix wildcard stands for the first label only (*.b.example.com)');
  t.equal((await servedCertificate(ssl, 'example.com')).cn, 'default.test', 'a two-label name has no *.x form');
  t.equal((await servedCertificate(ssl, 'unknown.test')).cn, 'default.test');
  t.equal((await servedCertificate(ssl)).cn, 'default.test', 'no SNI: the default certificate');
  t.equal((await servedCertificate(ports.h2[0], 'api.example.com')).cn, 'api.example.com', 'the same on an http2 listener');
  t.match(gw.logs(), /'reuseport' on 127\.0\.0\.1:0 is an nginx socket setting: ignored/);
});

t.test('cert_alt: the ECDSA or the RSA certificate, by what the client can verify', async (t) => {
  const [ssl] = ports.ssl;
  t.equal((await servedCertificate(ssl, 'dual.example.net', 'ecdsa_secp256r1_sha256')).keyType, 'ec');
  t.equal((await servedCertificate(ssl, 'dual.example.net', 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256')).keyType, 'rsa');
});

t.test('route snis match on TLS only (kong/router/transform.lua: net.protocol != "https" or tls.sni)', async (t) => {
  const [ssl] = ports.ssl;
  t.equal((await httpsRequest(ssl, '/sni', { servername: 'api.example.com' })).json().message, 'sni route');
  const other = await httpsRequest(ssl, '/sni', { servername: 'www.example.com' });
  t.equal(other.status, 200);
  t.equal(other.json().url, '/sni', 'another SNI: the route without snis, to the upstream');
  t.equal((await httpsRequest(ssl, '/sni')).json().url, '/sni', 'no SNI: no route with snis');
});

t.test('kong/runloop/handler.lua: an https-only route on plain HTTP is 426, or the redirect it names', async (t) => {
  const [plain] = ports.plain;
  const refused = await request(plain, '/secure/x');
  t.equal(refused.status, 426);
  t.same(refused.json(), { message: 'Please use HTTPS protocol', request_id: refused.headers['x-kong-request-id'] ?? refused.json().request_id });
  t.equal(refused.headers.upgrade, 'TLS/1.2, HTTP/1.1');
  t.equal(refused.headers.connection, 'Upgrade');
  const moved = await request(plain, '/moved/a?b=1', { headers: { host: 'gw.example:8000' } });
  t.equal(moved.status, 308);
  t.equal(moved.headers.location, 'https://gw.example/moved/a?b=1');
  t.equal((await request(plain, '/sni')).status, 426, 'snis are not looked at on plain HTTP: the https-only route is refused');
  t.equal((await httpsRequest(ports.ssl[0], '/secure/x')).status, 200, 'served on TLS');
});

t.test('the upstream hears X-Forwarded-Proto https and the TLS listener port', async (t) => {
  const [ssl] = ports.ssl;
  const seen = (await httpsRequest(ssl, '/any', { servername: 'www.example.com' })).json();
  t.equal(seen.headers['x-forwarded-proto'], 'https');
  t.equal(seen.headers['x-forwarded-port'], String(ssl));
  const plain = (await request(ports.plain[0], '/any')).json();
  t.equal(plain.headers['x-forwarded-proto'], 'http');
});

t.test('HTTP/2 through key-auth, rate-limiting, request-transformer and cors, to an HTTP/1.1 upstream', async (t) => {
  const session = h2Connect(ports.h2[0], 'api.example.com');
  t.teardown(() => session.close());
  const ok = await h2Request(session, '/plugged/x?y=1', { apikey: 'alice-key-0123456789', origin: 'https://app.example.com', cookie: 'a=1' });
  t.equal(ok.status, 200);
  t.equal(ok.headers['x-ratelimit-limit-minute'], '100');
  t.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
  t.notOk(ok.headers.connection, 'no connection-specific header on HTTP/2');
  const seen = ok.json();
  t.equal(seen.url, '/x?y=1');
  t.equal(seen.headers['x-added'], 'yes');
  t.equal(seen.headers['x-consumer-username'], 'alice');
  t.equal(seen.headers['x-forwarded-proto'], 'https');
  t.equal(seen.headers.cookie, 'a=1');
  t.same(Object.keys(seen.headers).filter((h) => h.startsWith(':')), [], 'no pseudo-header upstream');
  t.equal(seen.headers['x-forwarded-host'], 'api.example.com', ':authority is the Host');

  const denied = await h2Request(session, '/plugged/x');
  t.equal(denied.status, 401);
  t.match(denied.json(), { message: 'No API key found in request' });
  const preflight = await h2Request(session, '/plugged/x', { ':method': 'OPTIONS', origin: 'https://app.example.com', 'access-control-request-method': 'PUT' });
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com');
  const posted = await h2Request(session, '/plugged/p', { apikey: 'alice-key-0123456789', 'content-type': 'text/plain' }, 'hello over h2');
  t.equal(posted.json().body, 'hello over h2');
  t.equal(posted.json().method, 'POST');
  const termination = await h2Request(session, '/sni');
  t.equal(termination.json().message, 'sni route', 'a response the gateway makes itself');
  const h1 = await httpsRequest(ports.h2[0], '/sni', { servername: 'api.example.com' });
  t.equal(h1.json().message, 'sni route', 'HTTP/1.1 on the same listener');
});

t.test('HTTP/2 through basic-auth + acl, proxy-cache, request-size-limiting, ip-restriction, response-transformer, correlation-id', async (t) => {
  const session = h2Connect(ports.h2[0], 'api.example.com');
  t.teardown(() => session.close());
  const basic = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;
  t.equal((await h2Request(session, '/more/basic', { authorization: basic })).status, 200);
  t.equal((await h2Request(session, '/more/basic')).status, 401);
  const miss = await h2Request(session, '/more/cache/a');
  const hit = await h2Request(session, '/more/cache/a');
  t.equal(miss.headers['x-cache-status'], 'Miss');
  t.equal(hit.headers['x-cache-status'], 'Hit');
  t.equal(hit.body, miss.body);
  t.equal((await h2Request(session, '/more/size', { 'content-type': 'text/plain' }, 'short')).status, 200);
  const large = await h2Request(session, '/more/size', { 'content-type': 'text/plain' }, 'far more than ten bytes');
  t.equal(large.status, 413, 'a body without Content-Length is measured as it arrives');
  const denied = await h2Request(session, '/more/deny');
  t.equal(denied.status, 403);
  const transformed = await h2Request(session, '/more/transform');
  t.equal(transformed.headers['x-resp'], '1');
  t.match(transformed.headers['x-trace'], /\S/);
  t.equal(transformed.json().headers['x-trace'], transformed.headers['x-trace'], 'the same id upstream and downstream');
});

t.test('a certificate edited in the file is served to new connections; an open one keeps working', async (t) => {
  const [ssl] = ports.ssl;
  const agent = new Agent({ keepAlive: true, maxSockets: 1, maxCachedSessions: 0 });
  t.teardown(() => agent.destroy());
  const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;
  let kept: TLSSocket | undefined;
  const first = await new Promise<string>((resolve, reject) => {
    const req = httpsRequestOn(agent, ssl, (socket) => (kept = socket), resolve);
    req.on('error', reject);
  });
  t.equal(first, serialOf(exact.cert));
  const renewed = makeLeaf(ca, { names: ['api.example.com'] });
  writeByRename(gw.configFile, config(renewed, upstream.port));
  await waitFor('the renewed certificate', async () => {
    const served = await new Promise<string>((resolve, reject) => {
      const socket = require('node:tls').connect({ host: '127.0.0.1', port: ssl, servername: 'api.example.com', rejectUnauthorized: false }, () => {
        resolve(socket.getPeerX509Certificate().serialNumber);
        socket.end();
      });
      socket.on('error', reject);
    });
    return served === serialOf(renewed.cert) ? true : undefined;
  });
  let reusedSocket: TLSSocket | undefined;
  const again = await new Promise<string>((resolve, reject) => {
    const req = httpsRequestOn(agent, ssl, (socket) => (reusedSocket = socket), resolve);
    req.on('error', reject);
  });
  t.equal(reusedSocket, kept, 'the same connection, opened with the old certificate, still serves');
  t.equal(again, `status 200`);
});

function httpsRequestOn(agent: Agent, port: number, onSocket: (s: TLSSocket) => void, done: (serial: string) => void) {
  const { request: httpsReq } = require('node:https') as typeof import('node:https');
  const req = httpsReq({ host: '127.0.0.1', port, path: '/any', servername: 'api.example.com', rejectUnauthorized: false, agent }, (res) => {
    const socket = res.socket as TLSSocket;
    onSocket(socket);
    // OpenSSL keeps the peer's certificate for the handshake only: a reused connection answers with its status.
    const serial = socket.getPeerX509Certificate()?.serialNumber ?? `status ${res.statusCode}`;
    res.resume();
    res.on('end', () => done(serial));
  });
  req.end();
  return req;
}

t.test('no private key in Admin API views, GET /config or the logs', async (t) => {
  const admin = gw.adminPort!;
  const certs = (await request(admin, '/certificates')).json();
  t.equal(certs.data.length, 4);
  for (const c of certs.data) {
    t.equal(c.key, '----…');
    t.match(c.cert, /^-----BEGIN CERTIFICATE-----/);
  }
  t.same(certs.data.find((c: { key_alt: string | null }) => c.key_alt !== null).key_alt, '----…');
  const snis = (await request(admin, '/snis/api.example.com')).json();
  t.equal(snis.name, 'api.example.com');
  t.same(snis.certificate, { id: certs.data[0].id });
  t.equal((await request(admin, `/certificates/${certs.data[0].id}/snis`)).json().data[0].name, 'api.example.com');
  const exported = (await request(admin, '/config')).body;
  t.notMatch(exported, /PRIVATE KEY/);
  t.notMatch(gw.logs() + gw.output(), /PRIVATE KEY/);
});

t.test('a TLS session resumes after a reload: the ticket keys are kept', async (t) => {
  const [ssl] = ports.ssl;
  const { connect } = require('node:tls') as typeof import('node:tls');
  const handshake = (session?: Buffer) =>
    new Promise<{ session: Buffer; reused: boolean }>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: ssl, servername: 'www.example.com', rejectUnauthorized: false, session, maxVersion: 'TLSv1.2' }, () => {
        const reused = socket.isSessionReused();
        const got = socket.getSession()!;
        socket.end();
        resolve({ session: got, reused });
      });
      socket.on('error', reject);
    });
  const first = await handshake();
  t.notOk(first.reused);
  const before = gw.logs().split('config reloaded').length;
  gw.proc.kill('SIGHUP');
  await waitFor('the reload', () => (gw.logs().split('config reloaded').length > before ? true : undefined));
  t.ok((await handshake(first.session)).reused, 'resumed with the ticket issued before the reload');
});
