// TLS to https upstreams: verification (Kong's tls_verify, tls_verify_depth, ca_certificates), the client
// certificate (mTLS), and the SNI sent. Kong: kong/runloop/upstream_ssl.lua, spec/02-integration/05-proxy/18-upstream_tls_spec.lua.
// upstream-tls-http.test.ts runs it again on the node:http forwarder.
import t from 'tap';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { request, type Reply } from '../helpers/http';
import { startGateway, tempFile, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { count, waitFor, writeByRename } from '../helpers/wait';
import { intermediateCa, issue, rootCa, selfSigned, startTlsUpstream, type TestCert, type TlsUpstream } from '../helpers/tls-certs';

const root = rootCa('upstream root CA');
const intermediateOne = intermediateCa(root, 'intermediate one');
const intermediateTwo = intermediateCa(intermediateOne, 'intermediate two');
const otherRoot = rootCa('some other root CA');
const clientRoot = rootCa('client root CA');
const client = issue(clientRoot, ['gateway-client'], 'client');

const upstreams: TlsUpstream[] = [];
let gw: RunningGateway;
let selfSignedUp: TlsUpstream;
let rootSignedUp: TlsUpstream;
let twoIntermediatesUp: TlsUpstream;
let mutualUp: TlsUpstream;
let wsUp: { port: number; close(): Promise<void> };

/** A WebSocket echo upstream on https. */
function startTlsEcho(cert: TestCert): Promise<{ port: number; close(): Promise<void> }> {
  const server = https.createServer({ cert: cert.chain, key: cert.key });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            for (const c of wss.clients) c.terminate();
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    ),
  );
}

/** A WebSocket through the gateway: the echo of 'hello', or the status the handshake was refused with. */
function echoThrough(port: number, path: string): Promise<string | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.once('open', () => ws.send('hello'));
    ws.once('message', (data) => {
      resolve(data.toString());
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', reject);
  });
}

/** A service with one route `/<name>`, its fields given as YAML lines. */
function service(name: string, url: string, fields: string[] = [], route: string[] = []): string[] {
  return [`  - name: ${name}`, `    url: ${url}`, ...fields.map((f) => `    ${f}`), '    routes:', `      - paths: [/${name}]`, ...route.map((f) => `        ${f}`)];
}

t.before(async () => {
  upstreams.push((selfSignedUp = await startTlsUpstream(selfSigned(['localhost']), { name: 'self-signed' })));
  upstreams.push((rootSignedUp = await startTlsUpstream(issue(root, ['localhost', 'api.example.test']), { name: 'root-signed' })));
  upstreams.push((twoIntermediatesUp = await startTlsUpstream(issue(intermediateTwo, ['localhost']), { name: 'two-intermediates' })));
  upstreams.push((mutualUp = await startTlsUpstream(issue(root, ['localhost']), { name: 'mutual', clientCa: clientRoot })));
  wsUp = await startTlsEcho(issue(root, ['localhost']));
  // The gateway's system store trusts `root` (NODE_EXTRA_CA_CERTS adds to Node's bundled CAs).
  gw = await startGateway(configWith(root.cert, otherRoot.cert), { env: { ...process.env, NODE_EXTRA_CA_CERTS: tempFile('root.pem', root.cert) } });
});

/** Every service of these tests; `root-ca` and `other-ca` hold the PEMs given. */
function configWith(rootCaPem: string, otherCaPem: string): string {
  return yaml(
    '_format_version: "3.0"',
    'ca_certificates:',
    `  - {id: root-ca, cert: ${JSON.stringify(rootCaPem)}}`,
    `  - {id: other-ca, cert: ${JSON.stringify(otherCaPem)}}`,
    'upstreams:',
    `  - {name: balanced-up, targets: [{target: "localhost:${rootSignedUp.port}"}]}`,
    `  - {name: balanced-mutual, client_certificate: client-cert, targets: [{target: "localhost:${mutualUp.port}"}]}`,
    'certificates:',
    `  - {id: client-cert, cert: ${JSON.stringify(client.chain)}, key: ${JSON.stringify(client.key)}}`,
    'services:',
    ...service('ca-right', `https://localhost:${rootSignedUp.port}`, ['tls_verify: true', 'ca_certificates: [root-ca]']),
    ...service('ca-wrong', `https://localhost:${rootSignedUp.port}`, ['tls_verify: true', 'ca_certificates: [other-ca]', 'retries: 0']),
    ...service('mtls-with', `https://localhost:${mutualUp.port}`, ['client_certificate: {id: client-cert}']),
    ...service('ws-verified', `https://localhost:${wsUp.port}`, ['tls_verify: true', 'ca_certificates: [root-ca]']),
    ...service('ws-wrong-ca', `https://localhost:${wsUp.port}`, ['tls_verify: true', 'ca_certificates: [other-ca]', 'retries: 0']),
    ...service('balanced-right', 'https://balanced-up', ['tls_verify: true', 'ca_certificates: [root-ca]']),
    ...service('balanced-wrong', 'https://balanced-up', ['tls_verify: true', 'ca_certificates: [other-ca]', 'retries: 0']),
    ...service('balanced-mtls', 'https://balanced-mutual'),
    ...service('mtls-without', `https://localhost:${mutualUp.port}`, ['retries: 0']),
    ...service('off-self-signed', `https://localhost:${selfSignedUp.port}`),
    ...service('on-self-signed', `https://localhost:${selfSignedUp.port}`, ['tls_verify: true', 'retries: 0']),
    ...service('on-system-store', `https://localhost:${rootSignedUp.port}`, ['tls_verify: true']),
    ...service('depth-default', `https://localhost:${twoIntermediatesUp.port}`, ['tls_verify: true', 'retries: 0']),
    ...service('depth-one', `https://localhost:${twoIntermediatesUp.port}`, ['tls_verify: true', 'tls_verify_depth: 1', 'retries: 0']),
    ...service('depth-zero', `https://localhost:${rootSignedUp.port}`, ['tls_verify: true', 'tls_verify_depth: 0']),
    ...service('depth-two', `https://localhost:${twoIntermediatesUp.port}`, ['tls_verify: true', 'tls_verify_depth: 2']),
    ...service('sni', `https://localhost:${rootSignedUp.port}`),
    ...service('sni-preserved', `https://localhost:${rootSignedUp.port}`, [], ['preserve_host: true']),
    ...service('name-checked', `https://localhost:${rootSignedUp.port}`, ['tls_verify: true', 'retries: 0'], ['preserve_host: true']),
  );
}

t.teardown(async () => {
  await gw?.stop();
  for (const u of upstreams) await u.close();
  await wsUp?.close();
});

/** Kong's 502, as text (no Accept header). */
function isBadGateway(t: Tap.Test, r: Reply, what?: string): void {
  t.equal(r.status, 502, what);
  t.match(r.body, /^An invalid response was received from the upstream server\nrequest_id: [0-9a-f]{32}\n$/, what);
}

t.test('tls_verify is off by default: a self-signed upstream is accepted (Kong: 18-upstream_tls_spec "default is off")', async (t) => {
  const r = await request(gw.proxyPort, '/off-self-signed');
  t.equal(r.status, 200);
  t.equal(r.body, 'self-signed');
});

t.test("tls_verify on refuses a certificate nobody trusted with Kong's 502, and says why in the log", async (t) => {
  const r = await request(gw.proxyPort, '/on-self-signed');
  isBadGateway(t, r);
  t.match(gw.logs(), /"msg":"upstream request failed".*"error":"DEPTH_ZERO_SELF_SIGNED_CERT"/);
  t.notMatch(gw.logs(), /PRIVATE KEY/);
});

t.test('tls_verify on without ca_certificates trusts the system store', async (t) => {
  const r = await request(gw.proxyPort, '/on-system-store');
  t.equal(r.status, 200);
  t.equal(r.body, 'root-signed');
});

t.test('tls_verify on with ca_certificates trusts those CAs only (Kong: 18-upstream_tls_spec ca_certificates)', async (t) => {
  const right = await request(gw.proxyPort, '/ca-right');
  t.equal(right.status, 200);
  t.equal(right.body, 'root-signed');
  // `root` is in the system store too: ca_certificates replace it
  isBadGateway(t, await request(gw.proxyPort, '/ca-wrong'));
  t.match(gw.logs(), /"error":"UNABLE_TO_VERIFY_LEAF_SIGNATURE"/);
});

t.test('client_certificate: an upstream that demands a client certificate gets it; without one, 502', async (t) => {
  const withCert = await request(gw.proxyPort, '/mtls-with');
  t.equal(withCert.status, 200);
  t.equal(withCert.body, 'mutual');
  t.equal(mutualUp.clientNames.at(-1), 'gateway-client');
  isBadGateway(t, await request(gw.proxyPort, '/mtls-without'));
  t.notMatch(gw.logs() + gw.output(), /PRIVATE KEY|BEGIN CERTIFICATE/, 'no certificate or key in any log line');
});

t.test('a WebSocket handshake to an https upstream is verified with the same settings', async (t) => {
  t.equal(await echoThrough(gw.proxyPort, '/ws-verified'), 'hello');
  t.equal(await echoThrough(gw.proxyPort, '/ws-wrong-ca'), 502);
});

t.test("a balanced service reaches its upstream's targets with its own TLS settings", async (t) => {
  const right = await request(gw.proxyPort, '/balanced-right');
  t.equal(right.status, 200);
  t.equal(right.body, 'root-signed');
  isBadGateway(t, await request(gw.proxyPort, '/balanced-wrong'));
});

t.test("an upstream's client_certificate is presented when the service names none (Kong: fallback_upstream_client_cert)", async (t) => {
  const r = await request(gw.proxyPort, '/balanced-mtls');
  t.equal(r.status, 200);
  t.equal(r.body, 'mutual');
  t.equal(mutualUp.clientNames.at(-1), 'gateway-client');
});

t.test("tls_verify_depth: nginx's default of 1 refuses two intermediates, 2 accepts them (Kong: 18-upstream_tls_spec tls_verify_depth)", async (t) => {
  for (const name of ['depth-default', 'depth-one']) {
    const r = await request(gw.proxyPort, `/${name}`);
    isBadGateway(t, r, name);
  }
  t.match(gw.logs(), /"error":"CERT_CHAIN_TOO_LONG"/);
  const r = await request(gw.proxyPort, '/depth-two');
  t.equal(r.status, 200);
  t.equal(r.body, 'two-intermediates');
  // 0: a certificate the trusted CA signed itself
  t.equal((await request(gw.proxyPort, '/depth-zero')).status, 200);
});

t.test("the SNI sent upstream is the service's host; with preserve_host, the client's host (nginx's proxy_ssl_name $upstream_host)", async (t) => {
  const before = rootSignedUp.servernames.length;
  t.equal((await request(gw.proxyPort, '/sni', { headers: { Host: 'client.example.test' } })).status, 200);
  t.equal((await request(gw.proxyPort, '/sni-preserved', { headers: { Host: 'client.example.test:8443' } })).status, 200);
  t.same(rootSignedUp.servernames.slice(before), ['localhost', 'client.example.test']);
});

t.test('with tls_verify and preserve_host, the certificate must be for the client\'s host', async (t) => {
  const ok = await request(gw.proxyPort, '/name-checked', { headers: { Host: 'api.example.test' } });
  t.equal(ok.status, 200);
  const other = await request(gw.proxyPort, '/name-checked', { headers: { Host: 'other.example.test' } });
  isBadGateway(t, other);
  t.match(gw.logs(), /"error":"ERR_TLS_CERT_ALTNAME_INVALID"/);
});

t.test('a reload that swaps the CAs behind the same ids: warm connections verified with the old ones are not reused', async (t) => {
  t.equal((await request(gw.proxyPort, '/ca-right')).status, 200, 'a pooled connection to the upstream');
  writeByRename(gw.configFile, configWith(otherRoot.cert, root.cert));
  await waitFor('the reload', () => (count(gw.logs(), /"msg":"config reloaded"/) > 0 ? true : undefined));
  isBadGateway(t, await request(gw.proxyPort, '/ca-right'), 'root-ca now holds another CA');
  const swapped = await request(gw.proxyPort, '/ca-wrong');
  t.equal(swapped.status, 200, 'other-ca now holds the right one');
});
