// Broken upstreams: each failure gets Kong's 502/504 (text by default), or a cut stream once the status line has
// gone out; connection failures before the request was sent are retried up to the service's `retries`; the
// gateway process stays up and leaks no file descriptor.
import t, { type Test } from 'tap';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { deadPort, eventually, openFds, rawExchange, startBlackHole, startTcpServer, type TcpServer } from '../helpers/raw';

const HUGE = 50 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'z');

interface Fetched {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The response arrived whole (its framing said it ended). */
  complete: boolean;
}

/** A GET on a fresh connection that reports a cut response instead of failing. */
function fetch(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; abortAfterBytes?: number } = {}): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (complete: boolean) => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete });
      };
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (opts.abortAfterBytes === undefined) chunks.push(c);
        else if (size >= opts.abortAfterBytes) {
          req.destroy();
          settle(false);
        }
      });
      res.on('end', () => settle(res.complete));
      res.on('error', () => settle(false));
      res.on('close', () => settle(res.complete));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function requestIdOf(r: Fetched): string {
  const m = /request_id: ([0-9a-f]{32})/.exec(r.body.toString());
  return m ? m[1] : 'none';
}

function httpServer(handler: http.RequestListener, keepAliveTimeout = 100): Promise<{ port: number; server: http.Server; close(): Promise<void> }> {
  const server = http.createServer({ keepAliveTimeout }, handler);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        server,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    );
  });
}

const servers: Array<{ close(): Promise<void> }> = [];
let gw: RunningGateway;
let blackHole: Awaited<ReturnType<typeof startBlackHole>>;
let dead: number;
let resetBefore: TcpServer;
let flaky: TcpServer;
let huge: Awaited<ReturnType<typeof httpServer>>;
let ports: Record<string, number>;

t.before(async () => {
  dead = await deadPort();
  resetBefore = await startTcpServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
  const resetAfter = await httpServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('first part, then the connection dies');
    setTimeout(() => res.socket?.resetAndDestroy(), 50);
  });
  const truncated = await startTcpServer((socket) =>
    socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly fifty bytes of the hundred promised..........')),
  );
  const garbage = await startTcpServer((socket) => socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n')));
  const silent = await startTcpServer(() => {});
  const slowly = await httpServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    let n = 0;
    const tick = setInterval(() => {
      res.write(`tick ${n}\n`);
      if (++n === 8) {
        clearInterval(tick);
        res.end();
      }
    }, 100);
    res.on('close', () => clearInterval(tick));
  });
  huge = await httpServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': HUGE });
    let sent = 0;
    const pump = () => {
      while (sent < HUGE) {
        sent += CHUNK.length;
        if (!res.write(CHUNK)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  // Serves one request per connection: a second request on a kept-alive connection is met with a reset, as when
  // an upstream closes an idle connection at the moment the gateway reuses it.
  flaky = await startTcpServer((socket) => {
    let served = 0;
    socket.on('data', () => {
      if (served++ === 0) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nfresh');
        setTimeout(() => socket.end(), 600); // idle connections do not live forever
      } else socket.resetAndDestroy();
    });
  });
  const idleCloser = await httpServer((_req, res) => res.end('ok'), 50);
  servers.push(resetBefore, resetAfter, truncated, garbage, silent, slowly, huge, flaky, idleCloser);
  blackHole = await startBlackHole();
  ports = {
    refused: dead,
    resetBefore: resetBefore.port,
    resetAfter: resetAfter.port,
    truncated: truncated.port,
    garbage: garbage.port,
    silent: silent.port,
    slowly: slowly.port,
    huge: huge.port,
    flaky: flaky.port,
    idleCloser: idleCloser.port,
  };
  const service = (name: string, port: number, extra: string[] = []) => [
    `  - name: ${name}`,
    `    url: http://127.0.0.1:${port}`,
    ...extra.map((l) => `    ${l}`),
    `    routes: [{name: ${name}, paths: [/${name}]}]`,
  ];
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      ...service('refused', dead),
      ...service('refused-r2', dead, ['retries: 2']),
      ...service('refused-r0', dead, ['retries: 0']),
      ...service('reset-before', resetBefore.port),
      ...service('reset-after', resetAfter.port),
      ...service('truncated', truncated.port),
      ...service('garbage', garbage.port),
      ...service('silent', silent.port, ['read_timeout: 300']),
      ...service('slowly', slowly.port, ['read_timeout: 500']),
      ...service('huge', huge.port),
      ...service('flaky', flaky.port, ['retries: 0']),
      ...service('idle-closer', idleCloser.port),
      ...service('black-hole', blackHole?.port ?? dead, ['connect_timeout: 300', 'retries: 1']),
    ),
  );
});

t.teardown(async () => {
  await gw.stop();
  for (const s of servers) await s.close();
  if (blackHole) {
    for (const s of blackHole.fillers) s.destroy();
    blackHole.proc.kill('SIGKILL');
  }
});

interface AttemptLog {
  attempt: number;
  retry: boolean;
  stale: boolean;
  error: string;
}

/** The failed attempts the gateway logged for a request, once the last one (not retried) is in. */
async function attemptsLogged(requestId: string): Promise<AttemptLog[]> {
  const read = () =>
    gw
      .logs()
      .split('\n')
      .filter((l) => l.includes(requestId) && l.includes('"msg":"upstream request failed"'))
      .map((l) => JSON.parse(l) as AttemptLog);
  await eventually(() => read().some((a) => !a.retry), 2000);
  return read();
}

function isKongText(t: Test, r: Fetched, status: number, message: string): void {
  t.equal(r.status, status);
  t.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
  t.match(r.body.toString(), new RegExp(`^${message}\\nrequest_id: [0-9a-f]{32}\\n$`));
}

const BAD_GATEWAY = 'An invalid response was received from the upstream server';
const TIMEOUT = 'The upstream server is timing out';

t.test('refused: 502, after retries (Kong default 5) attempts', async (t) => {
  const r = await fetch(gw.proxyPort, '/refused');
  isKongText(t, r, 502, BAD_GATEWAY);
  const attempts = await attemptsLogged(requestIdOf(r));
  t.equal(attempts.length, 6, 'one try and 5 retries');
  t.same(attempts.map((a) => a.retry), [true, true, true, true, true, false]);
  t.equal(attempts[0].error, 'ECONNREFUSED');
  const r2 = await fetch(gw.proxyPort, '/refused-r2', { headers: { Accept: 'application/json' } });
  t.equal(r2.status, 502);
  t.equal(JSON.parse(r2.body.toString()).message, BAD_GATEWAY);
  t.equal((await attemptsLogged(JSON.parse(r2.body.toString()).request_id)).length, 3);
  const r0 = await fetch(gw.proxyPort, '/refused-r0');
  t.equal((await attemptsLogged(requestIdOf(r0))).length, 1);
});

t.test('a streamed request body is never replayed', async (t) => {
  const r = await fetch(gw.proxyPort, '/refused', { method: 'PUT', body: 'payload', headers: { 'Content-Type': 'text/plain' } });
  isKongText(t, r, 502, BAD_GATEWAY);
  t.equal((await attemptsLogged(requestIdOf(r))).length, 1);
});

t.test('reset before the response headers: 502, not retried (the request may have been processed)', async (t) => {
  const before = resetBefore.connections;
  const r = await fetch(gw.proxyPort, '/reset-before');
  isKongText(t, r, 502, BAD_GATEWAY);
  t.equal(resetBefore.connections - before, 1);
});

t.test('invalid response: 502', async (t) => {
  isKongText(t, await fetch(gw.proxyPort, '/garbage'), 502, BAD_GATEWAY);
});

t.test('reset after the response headers: the client sees the stream cut', async (t) => {
  const r = await fetch(gw.proxyPort, '/reset-after');
  t.equal(r.status, 200);
  t.notOk(r.complete, 'the response is not complete');
  t.match(r.body.toString(), /^first part/);
});

t.test('body shorter than its Content-Length: the client sees the stream cut', async (t) => {
  const r = await fetch(gw.proxyPort, '/truncated');
  t.equal(r.status, 200);
  t.equal(r.headers['content-length'], '100');
  t.notOk(r.complete);
  t.ok(r.body.length < 100);
});

t.test('never answering: 504 after read_timeout', async (t) => {
  isKongText(t, await fetch(gw.proxyPort, '/silent'), 504, TIMEOUT);
});

t.test('answering slowly, each pause within read_timeout: the whole answer', async (t) => {
  const r = await fetch(gw.proxyPort, '/slowly');
  t.equal(r.status, 200);
  t.ok(r.complete);
  t.equal(r.body.toString(), Array.from({ length: 8 }, (_, i) => `tick ${i}\n`).join(''));
});

t.test('a 50 MB response streams through whole', async (t) => {
  const r = await fetch(gw.proxyPort, '/huge');
  t.equal(r.status, 200);
  t.ok(r.complete);
  t.equal(r.body.length, HUGE);
  const expected = createHash('sha256');
  for (let i = 0; i < HUGE / CHUNK.length; i++) expected.update(CHUNK);
  t.equal(createHash('sha256').update(r.body).digest('hex'), expected.digest('hex'));
});

t.test('an upstream that resets a reused keep-alive connection: retried once on a new one', async (t) => {
  // retries: 0 on this service: the retry of a stale pooled connection is not counted, as in nginx
  for (let i = 0; i < 6; i++) {
    const r = await fetch(gw.proxyPort, '/flaky');
    t.equal(r.status, 200, `request ${i}`);
    t.equal(r.body.toString(), 'fresh');
  }
  const stale = gw.logs().split('\n').filter((l) => l.includes('"msg":"upstream request failed"') && l.includes('"stale":true'));
  t.ok(stale.length >= 1, 'a stale connection was met and retried');
  t.ok(flaky.connections >= 6, 'each request ended on a connection of its own');
});

t.test('a POST is not replayed on a stale connection (it may have been processed)', async (t) => {
  await fetch(gw.proxyPort, '/flaky');
  const r = await fetch(gw.proxyPort, '/flaky', { method: 'POST', body: '' });
  isKongText(t, r, 502, BAD_GATEWAY);
});

t.test('an upstream that closes idle keep-alive connections between requests', async (t) => {
  for (let i = 0; i < 5; i++) {
    const r = await fetch(gw.proxyPort, '/idle-closer');
    t.equal(r.status, 200);
    await new Promise((r) => setTimeout(r, 120));
  }
});

t.test("the upstream's connection headers stay on its side; the client's Connection: close is honoured", async (t) => {
  const r = await rawExchange(gw.proxyPort, 'GET /idle-closer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.equal(r.status, 200);
  t.ok(r.closed, 'closed after the answer');
  t.match(r.text, /\r\nconnection: close\r\n/i);
  t.notMatch(r.text, /\r\nkeep-alive:/i, "the upstream's Keep-Alive is not the client's");
  const kept = await rawExchange(gw.proxyPort, 'GET /idle-closer HTTP/1.1\r\nHost: x\r\n\r\n', { waitMs: 300 });
  t.match(kept.text, /\r\nconnection: keep-alive\r\n/i);
  t.notOk(kept.closed, 'kept alive otherwise');
});

t.test('connect timeout: 504, retried', async (t) => {
  if (!blackHole) return t.plan(0, 'skipped: this kernel accepts past a full backlog, so no loopback connect timeout');
  const r = await fetch(gw.proxyPort, '/black-hole');
  isKongText(t, r, 504, TIMEOUT);
  const attempts = await attemptsLogged(requestIdOf(r));
  t.same(attempts.map((a) => a.error), ['connect timeout', 'connect timeout']);
});

t.test('a client that leaves mid-response: the upstream request is dropped too', async (t) => {
  const r = await fetch(gw.proxyPort, '/huge', { abortAfterBytes: 1024 * 1024 });
  t.notOk(r.complete);
  const openUpstreamConnections = () => new Promise<number>((resolve) => huge.server.getConnections((_e, n) => resolve(n)));
  // well before the service's read_timeout (60 s)
  t.ok(await eventually(async () => (await openUpstreamConnections()) === 0, 3000), 'the upstream connection was closed');
});

t.test('no file descriptor leaks over repeated failures', async (t) => {
  const paths = ['/refused', '/reset-before', '/reset-after', '/truncated', '/garbage', '/silent', '/slowly', '/flaky', '/idle-closer', '/black-hole'];
  const round = () => Promise.all([...paths.map((p) => fetch(gw.proxyPort, p)), fetch(gw.proxyPort, '/huge', { abortAfterBytes: 1 })]);
  const pid = gw.proc.pid!;
  await round(); // warm-up: lazily created handles are not leaks
  await new Promise((r) => setTimeout(r, 1500)); // idle upstream connections close
  const baseline = openFds(pid);
  for (let i = 0; i < 5; i++) await round();
  t.ok(await eventually(() => openFds(pid) <= baseline, 5000), `fds back to ${baseline} (now ${openFds(pid)})`);
});

t.test('the gateway is alive, with no unhandled error', async (t) => {
  t.equal(gw.proc.exitCode, null);
  t.notMatch(gw.logs(), /unhandled|uncaught|MaxListenersExceeded/i);
  t.equal((await fetch(gw.proxyPort, '/slowly')).status, 200);
});
