import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { errorsOf } from '../helpers/config';
import { deadPort } from '../helpers/raw';
import { waitFor } from '../helpers/wait';

// Cases after Kong's spec/03-plugins/01-tcp-log/01-tcp-log_spec.lua and spec/03-plugins/02-udp-log/01-udp-log_spec.lua.
const TCP_SPEC = 'spec/03-plugins/01-tcp-log/01-tcp-log_spec.lua';
const UDP_SPEC = 'spec/03-plugins/02-udp-log/01-udp-log_spec.lua';

/** A TCP (or TLS) collector: the lines it received, per connection, and the SNI each TLS client sent. */
interface LineCollector {
  port: number;
  connections: string[][];
  servernames: Array<string | false>;
  lines(): any[];
  close(): Promise<void>;
}

function startLineCollector(port = 0, secure?: { key: Buffer; cert: Buffer }): Promise<LineCollector> {
  const connections: string[][] = [];
  const servernames: Array<string | false> = [];
  const sockets = new Set<net.Socket>();
  const onSocket = (socket: net.Socket) => {
    const lines: string[] = [];
    connections.push(lines);
    if (socket instanceof tls.TLSSocket) servernames.push(socket.servername);
    sockets.add(socket);
    let rest = '';
    socket.on('data', (d) => {
      const parts = (rest + d.toString('utf8')).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const server = secure ? tls.createServer(secure, onSocket) : net.createServer(onSocket);
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        connections,
        servernames,
        lines: () => connections.flat().map((l) => JSON.parse(l)),
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    );
  });
}

const dir = mkdtempSync(join(tmpdir(), 'tcp-log-'));
let gw: RunningGateway;
let upstream: Upstream;
let plain: LineCollector;
let secure: LineCollector;
let comeback: LineCollector | undefined;
let comebackPort: number;
const datagrams: string[] = [];
const udp = dgram.createSocket('udp4');

t.before(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=collector.test', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], {
    stdio: 'ignore',
  });
  upstream = await startUpstream();
  plain = await startLineCollector();
  secure = await startLineCollector(0, { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
  comebackPort = await deadPort();
  udp.on('message', (m) => datagrams.push(m.toString('utf8')));
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const route = (name: string, plugin: object) => ({ name, hosts: [`${name}.test`], service: 'echo', plugins: [plugin] });
  const tcp = (config: object) => ({ name: 'tcp-log', config: { host: '127.0.0.1', ...config } });
  gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      services: [{ name: 'echo', url: `http://127.0.0.1:${upstream.port}` }],
      routes: [
        route('tcp', tcp({ port: plain.port })),
        route('tls', tcp({ port: secure.port, tls: true, tls_sni: 'collector.test' })),
        route('comeback', tcp({ port: comebackPort })),
        route('udp', { name: 'udp-log', config: { host: '127.0.0.1', port: (udp.address() as net.AddressInfo).port } }),
      ],
    }),
  );
});
t.teardown(async () => {
  await gw.stop();
  await Promise.all([upstream.close(), plain.close(), secure.close(), comeback?.close()]);
  udp.close();
  rmSync(dir, { recursive: true, force: true });
});

async function send(host: string, path = '/') {
  const res = await request(gw.proxyPort, path, { headers: { host } });
  if (res.status !== 200) throw new Error(`${host}: status ${res.status}`);
}

t.test(`${TCP_SPEC}: logs to TCP, with proper latencies and tries as a JSON array (#6390)`, async (t) => {
  await send('tcp.test', '/first?x=1');
  const [entry] = await waitFor('the line', () => (plain.lines().length === 1 ? plain.lines() : undefined));
  t.equal(entry.request.uri, '/first?x=1');
  t.equal(entry.response.status, 200);
  t.equal(entry.route.name, 'tcp');
  t.equal(entry.client_ip, '127.0.0.1');
  t.ok(entry.latencies.proxy >= 0 && entry.latencies.kong >= 0);
  t.ok(entry.latencies.request >= entry.latencies.proxy);
  t.ok(Array.isArray(entry.tries));
});

t.test(`${TCP_SPEC}: keepalive: the next entries reuse the connection`, async (t) => {
  await send('tcp.test', '/second');
  await send('tcp.test', '/third');
  await waitFor('three lines', () => (plain.lines().length === 3 ? true : undefined));
  t.equal(plain.connections.length, 1);
  t.same(
    plain.lines().map((e) => e.request.uri),
    ['/first?x=1', '/second', '/third'],
  );
});

t.test(`${TCP_SPEC}: performs a TLS handshake on the remote TCP server, with tls_sni`, async (t) => {
  await send('tls.test');
  const [entry] = await waitFor('the line', () => (secure.lines().length === 1 ? secure.lines() : undefined));
  t.equal(entry.route.name, 'tls');
  t.same(secure.servernames, ['collector.test']);
});

t.test('kong/plugins/tcp-log/handler.lua: an entry that cannot be sent is logged and dropped, not retried; once the collector is back, the next ones arrive', async (t) => {
  await send('comeback.test', '/while-down');
  await waitFor('the failure logged', () => (gw.logs().includes('queued entries dropped') ? true : undefined));
  t.match(gw.logs(), /failed to connect to 127\.0\.0\.1:\d+/);
  const metrics = await request(gw.adminPort!, '/metrics');
  t.match(metrics.body, /gateway_log_entries_dropped_total\{plugin="tcp-log",reason="retries exhausted"\} 1/);
  comeback = await startLineCollector(comebackPort);
  await send('comeback.test', '/once-back');
  const lines = await waitFor('the entry', () => (comeback!.lines().length === 1 ? comeback!.lines() : undefined));
  t.same(
    lines.map((e) => e.request.uri),
    ['/once-back'],
  );
});

t.test(`${UDP_SPEC}: logs to UDP, with proper latencies`, async (t) => {
  await send('udp.test', '/over-udp');
  const [text] = await waitFor('the datagram', () => (datagrams.length === 1 ? datagrams : undefined));
  t.notOk(text.endsWith('\n'), 'one JSON document per datagram');
  const entry = JSON.parse(text);
  t.equal(entry.request.uri, '/over-udp');
  t.equal(entry.response.status, 200);
  t.equal(entry.route.name, 'udp');
  t.ok(entry.latencies.request >= entry.latencies.proxy && entry.latencies.proxy >= 0);
});

const config = (name: string, pluginConfig: object) => JSON.stringify({ _format_version: '3.0', plugins: [{ name, config: pluginConfig }] });

t.test('tcp-log and udp-log schemas: host and port required, port in range, custom_fields_by_lua refused', async (t) => {
  for (const name of ['tcp-log', 'udp-log']) {
    t.same(errorsOf(config(name, { host: 'logs.internal', port: 514 })), []);
    t.match(errorsOf(config(name, { port: 514 })), [/config\.host: .*required/]);
    t.match(errorsOf(config(name, { host: 'x', port: 70000 })), [/config\.port: .*between 0 and 65535/]);
    t.match(errorsOf(config(name, { host: 'x', port: 1, custom_fields_by_lua: { a: 'return 1' } })), [/Lua code is not supported/]);
  }
  t.match(errorsOf(config('udp-log', { host: 'x', port: 1, tls: true })), [/config\.tls/], 'udp-log has no tls');
});
