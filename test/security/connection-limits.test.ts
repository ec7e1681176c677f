// One client address cannot hold every connection the gateway can have: beyond --max-connections-per-ip, its new
// connections are reset as soon as they are accepted, counted in the metrics and logged (once per address per
// 10 s), while other addresses are served. Real sockets on loopback (127.0.0.1 and 127.0.0.2 are both local).
import t from 'tap';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { runCli, startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { eventually } from '../helpers/raw';

let upstream: Upstream;
let config: string;

t.before(async () => {
  upstream = await startUpstream();
  config = yaml(
    '_format_version: "3.0"',
    'services:',
    '  - name: echo',
    `    url: http://127.0.0.1:${upstream.port}`,
    '    routes: [{name: echo, paths: [/]}]',
  );
});

t.teardown(() => upstream.close());

interface Held {
  socket: net.Socket;
  /** The gateway answered a request on it (rather than closing it with nothing said). */
  served: boolean;
}

const held: net.Socket[] = [];
t.afterEach(() => {
  for (const s of held.splice(0)) s.destroy();
});

/** A keep-alive connection from `from` that sends one request and is kept open once answered. */
function connect(port: number, from = '127.0.0.1'): Promise<Held> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    held.push(socket);
    let text = '';
    const settle = (served: boolean) => {
      socket.removeAllListeners('data');
      resolve({ socket, served });
    };
    socket.on('connect', () => socket.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n'));
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('\r\n\r\n')) settle(/^HTTP\/1\.1 200 /.test(text));
    });
    socket.on('error', () => {});
    socket.on('close', () => settle(false));
  });
}

async function metrics(gw: RunningGateway): Promise<string> {
  return (await request(gw.adminPort!, '/metrics')).body;
}

function metric(text: string, pattern: RegExp): number {
  const m = pattern.exec(text);
  return m === null ? NaN : Number(m[1]);
}

const REFUSED_LINE = /^\{[^\n]*"msg":"connections refused: too many open from one address"[^\n]*$/gm;

t.test('beyond the cap an address is refused, counted and logged; other addresses and freed places are served', async (t) => {
  const gw = await startGateway(config, { args: ['--max-connections-per-ip', '4'] });
  t.teardown(() => gw.stop());

  const first = [];
  for (let i = 0; i < 4; i++) first.push(await connect(gw.proxyPort));
  t.same(first.map((c) => c.served), [true, true, true, true], 'up to the cap: served');

  const extra = await Promise.all([connect(gw.proxyPort), connect(gw.proxyPort), connect(gw.proxyPort)]);
  t.same(extra.map((c) => c.served), [false, false, false], 'beyond the cap: closed without an answer');

  const other = await connect(gw.proxyPort, '127.0.0.2');
  t.ok(other.served, 'another address is served meanwhile');

  const status = async () => (await request(gw.adminPort!, '/status')).json().server;
  first[0].socket.destroy();
  first[1].socket.destroy();
  t.ok(await eventually(async () => (await status()).connections_active === 3), 'the gateway saw two close');
  t.ok((await connect(gw.proxyPort)).served, 'a place freed by a close is taken again');

  const m = await metrics(gw);
  t.equal(metric(m, /^gateway_connections_refused_total (\d+)$/m), 3, 'the refusals are counted');
  const accepted = metric(m, /^kong_nginx_connections_total\{[^}]*state="accepted"\} (\d+)$/m);
  const handled = metric(m, /^kong_nginx_connections_total\{[^}]*state="handled"\} (\d+)$/m);
  t.equal(accepted - handled, 3, "nginx's handled: accepted less the refused");
  const server = await status();
  t.equal(server.connections_refused, 3);
  t.equal(server.connections_handled, server.connections_accepted - 3);

  const lines = gw.logs().match(REFUSED_LINE) ?? [];
  t.equal(lines.length, 1, 'one line for three refusals within the logging period');
  t.match(JSON.parse(lines[0]), { level: 'warn', client_ip: '127.0.0.1', max_connections_per_ip: 4, refused: 1 });
  t.equal((await request(gw.proxyPort, '/after')).status, 200, 'still serving');
});

t.test('the environment sets the cap, the flag wins, and off lifts it', async (t) => {
  const env = { ...process.env, GATEWAY_MAX_CONNECTIONS_PER_IP: '2' };
  const capped = await startGateway(config, { env });
  t.teardown(() => capped.stop());
  const served = [];
  for (let i = 0; i < 3; i++) served.push((await connect(capped.proxyPort)).served);
  t.same(served, [true, true, false], 'GATEWAY_MAX_CONNECTIONS_PER_IP=2');

  const off = await startGateway(config, { env, args: ['--max-connections-per-ip', 'off'] });
  t.teardown(() => off.stop());
  const all = [];
  for (let i = 0; i < 3; i++) all.push((await connect(off.proxyPort)).served);
  t.same(all, [true, true, true], '--max-connections-per-ip off');
  t.equal(metric(await metrics(off), /^gateway_connections_refused_total (\d+)$/m), 0);
});

t.test('--max-connections-per-ip takes a whole number from 1, or off', async (t) => {
  for (const bad of ['0', '-1', '1.5', 'abc', 'none']) {
    const r = runCli(['start', '-c', 'kong.yml', '--max-connections-per-ip', bad]);
    t.equal(r.status, 1, bad);
    t.match(r.stderr, /--max-connections-per-ip.*whole number, at least 1, or 'off'/);
  }
  const r = runCli(['start', '-c', 'kong.yml'], { env: { ...process.env, GATEWAY_MAX_CONNECTIONS_PER_IP: 'lots' } });
  t.equal(r.status, 1);
  t.match(r.stderr, /whole number, at least 1, or 'off'/);
});

t.test('with --workers each worker counts its own connections; /metrics adds up their refusals', async (t) => {
  const gw = await startGateway(config, { args: ['--workers', '2', '--max-connections-per-ip', '1'] });
  t.teardown(() => gw.stop());
  const conns = [];
  for (let i = 0; i < 5; i++) conns.push(await connect(gw.proxyPort));
  const served = conns.filter((c) => c.served).length;
  t.ok(served >= 1 && served <= 2, `at most one per worker served (${served})`);
  t.equal(metric(await metrics(gw), /^gateway_connections_refused_total (\d+)$/m), 5 - served, 'every refusal counted once');
});

const prlimit = spawnSync('prlimit', ['--version']).status === 0;

t.test('the start line says the open files limit, raised to the hard limit', { skip: !prlimit && 'no prlimit here' }, async (t) => {
  // the soft limit is set low for the gateway's process only; Node raises it to the hard one as it starts
  const gw = await startGateway(config, { args: ['--max-connections-per-ip', '5000'], wrap: ['prlimit', '--nofile=256:4096'] });
  t.teardown(() => gw.stop());
  t.match(gw.logs(), /"msg":"gateway listening"[^\n]*"open_files_limit":4096/);
  const warned = /"msg":"one client address may open as many connections as the process may open files","max_connections_per_ip":5000,"open_files_limit":4096/;
  t.ok(await eventually(() => warned.test(gw.logs())), 'a cap the descriptors cannot cover is warned of');
  t.notMatch(gw.logs(), /could not be raised/);
});

t.test('a trusted proxy (--trusted-ips) is not held to one client\'s cap: its connections carry many clients', async (t) => {
  const gw = await startGateway(config, { args: ['--max-connections-per-ip', '2', '--trusted-ips', '127.0.0.3'] });
  t.teardown(() => gw.stop());
  const fromProxy = [];
  for (let i = 0; i < 5; i++) fromProxy.push(await connect(gw.proxyPort, '127.0.0.3'));
  t.same(fromProxy.map((c) => c.served), [true, true, true, true, true], 'the trusted proxy: every connection served');
  const others = [];
  for (let i = 0; i < 3; i++) others.push(await connect(gw.proxyPort, '127.0.0.4'));
  t.same(others.map((c) => c.served), [true, true, false], 'any other address: still capped');
});
