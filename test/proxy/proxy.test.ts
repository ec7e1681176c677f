import t from 'tap';
import net from 'node:net';
import http from 'node:http';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { deadPort } from '../helpers/raw';

let upstream: Upstream;
let slow: Upstream;
let gw: RunningGateway;

t.before(async () => {
  upstream = await startUpstream((req, res, body) => {
    if (req.url!.startsWith('/status/')) {
      res.writeHead(Number(req.url!.split('/')[2]), { 'Content-Type': 'text/plain', Via: '1.1 upstream-cache' });
      return res.end('upstream says so');
    }
    if (req.url!.startsWith('/big')) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 97);
      for (let i = 0; i < 64; i++) res.write(chunk);
      return res.end();
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyLength: body.length, bodyStart: body.subarray(0, 20).toString() }));
  });
  slow = await startUpstream((_req, res) => {
    setTimeout(() => {
      if (!res.destroyed) res.end('late');
    }, 3000);
  });
  const dead = await deadPort();
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: up',
      `    url: http://127.0.0.1:${upstream.port}/base`,
      '    routes:',
      '      - name: strip',
      '        paths: [/api]',
      '      - name: keep',
      '        paths: [/keep]',
      '        strip_path: false',
      '      - name: host-preserved',
      '        hosts: [preserved.test]',
      '        preserve_host: true',
      '  - name: root',
      `    url: http://127.0.0.1:${upstream.port}`,
      '    routes:',
      '      - name: status',
      '        paths: [/status]',
      '        strip_path: false',
      '      - name: big',
      '        paths: [/big]',
      '        strip_path: false',
      '  - name: refused',
      `    url: http://127.0.0.1:${dead}`,
      '    routes: [{name: refused, paths: [/refused]}]',
      '  - name: slow',
      `    url: http://127.0.0.1:${slow.port}`,
      '    read_timeout: 300',
      '    routes: [{name: slow, paths: [/slow]}]',
      '  - name: disabled',
      `    url: http://127.0.0.1:${upstream.port}`,
      '    enabled: false',
      '    routes: [{name: disabled, paths: [/off]}]',
      'routes:',
      '  - name: serviceless',
      '    paths: [/nowhere]',
    ),
  );
});

t.teardown(async () => {
  await gw.stop();
  await upstream.close();
  await slow.close();
});

t.test('proxies with strip_path and the service path joined', async (t) => {
  const r = await request(gw.proxyPort, '/api/users?id=1&x');
  t.equal(r.status, 200);
  t.equal(r.json().url, '/base/users?id=1&x');
  t.equal(r.headers['via'], '1.1 gateway/0.1.0');
  t.ok(r.headers['x-kong-upstream-latency'] !== undefined);
  t.ok(r.headers['x-kong-proxy-latency'] !== undefined);
  t.match(r.headers['x-kong-request-id'], /^[0-9a-f]{32}$/);
  const keep = await request(gw.proxyPort, '/keep/a');
  t.equal(keep.json().url, '/base/keep/a');
});

t.test('upstream request headers as Kong sets them', async (t) => {
  const r = await request(gw.proxyPort, '/api/x', {
    headers: {
      Host: 'front.test:8000',
      'X-Forwarded-For': '10.0.0.1',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Prefix': '/spoofed',
      Connection: 'keep-alive, X-Hop',
      'X-Hop': 'secret-hop',
      'Keep-Alive': 'timeout=5',
      'X-Consumer-ID': 'spoofed',
      'X-Anonymous-Consumer': 'false',
      Via: '1.0 client-proxy',
    },
  });
  const h = r.json().headers;
  t.equal(h['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
  t.equal(h['x-forwarded-proto'], 'http');
  t.equal(h['x-forwarded-host'], 'front.test');
  t.equal(h['x-forwarded-port'], String(gw.proxyPort));
  t.equal(h['x-forwarded-path'], '/api/x');
  t.equal(h['x-forwarded-prefix'], '/api');
  t.equal(h['x-real-ip'], '127.0.0.1');
  t.equal(h['via'], '1.0 client-proxy, 1.1 gateway/0.1.0');
  t.equal(h['host'], `127.0.0.1:${upstream.port}`);
  t.equal(h['x-hop'], undefined);
  t.equal(h['keep-alive'], undefined);
  t.equal(h['x-consumer-id'], undefined);
  t.equal(h['x-anonymous-consumer'], undefined);
  t.match(h['x-kong-request-id'], /^[0-9a-f]{32}$/);
  const noPrefix = (await request(gw.proxyPort, '/keep/x', { headers: { 'X-Forwarded-Prefix': '/spoofed' } })).json().headers;
  t.equal(noPrefix['x-forwarded-prefix'], undefined);
});

t.test('preserve_host sends the client Host verbatim', async (t) => {
  const r = await request(gw.proxyPort, '/p', { headers: { Host: 'preserved.test:123' } });
  t.equal(r.json().headers.host, 'preserved.test:123');
  t.equal(r.json().url, '/base/p');
});

t.test('request bodies stream both ways, plain and chunked', async (t) => {
  const big = Buffer.alloc(3 * 1024 * 1024, 120);
  const r = await request(gw.proxyPort, '/api/upload', { method: 'POST', body: big, headers: { 'Content-Type': 'application/octet-stream' } });
  t.equal(r.json().bodyLength, big.length);
  const chunked = await request(gw.proxyPort, '/api/upload', { method: 'PUT', chunks: ['hello ', 'chunked ', 'world'] });
  t.equal(chunked.json().bodyLength, 'hello chunked world'.length);
  t.equal(chunked.json().headers['transfer-encoding'], 'chunked');
  const down = await request(gw.proxyPort, '/big');
  t.equal(down.body.length, 64 * 64 * 1024);
});

t.test('upstream statuses, bodies and headers pass through', async (t) => {
  for (const status of [201, 404, 418, 500, 503]) {
    const r = await request(gw.proxyPort, `/status/${status}`);
    t.equal(r.status, status);
    t.equal(r.body, 'upstream says so');
    t.equal(r.headers['via'], '1.1 upstream-cache, 1.1 gateway/0.1.0');
  }
});

t.test('no route: 404 with Kong JSON body', async (t) => {
  const r = await request(gw.proxyPort, '/nothing-here');
  t.equal(r.status, 404);
  t.equal(r.json().message, 'no Route matched with those values');
  t.match(r.json().request_id, /^[0-9a-f]{32}$/);
  t.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  t.equal(r.headers['server'], 'gateway/0.1.0');
});

t.test('a disabled service answers 404; a serviceless route 503', async (t) => {
  t.equal((await request(gw.proxyPort, '/off')).status, 404);
  const r = await request(gw.proxyPort, '/nowhere');
  t.equal(r.status, 503);
  t.equal(r.json().message, 'no Service found with those values');
});

t.test('refused upstream: 502, text by default, JSON when asked', async (t) => {
  const r = await request(gw.proxyPort, '/refused');
  t.equal(r.status, 502);
  t.match(r.body, /^An invalid response was received from the upstream server\nrequest_id: [0-9a-f]{32}\n$/);
  const j = await request(gw.proxyPort, '/refused', { headers: { Accept: 'application/json' } });
  t.equal(j.status, 502);
  t.equal(j.json().message, 'An invalid response was received from the upstream server');
});

t.test('read timeout: 504', async (t) => {
  const r = await request(gw.proxyPort, '/slow', { headers: { Accept: 'application/json' } });
  t.equal(r.status, 504);
  t.equal(r.json().message, 'The upstream server is timing out');
});

t.test('malformed requests get a 400 and the gateway stays up', async (t) => {
  const bad = await new Promise<string>((resolve) => {
    const s = net.connect(gw.proxyPort, '127.0.0.1', () => s.write('GET /api HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'));
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
  });
  t.match(bad, /^HTTP\/1\.1 400 /);
  const pct = await request(gw.proxyPort, '/api/%zz');
  t.equal(pct.status, 400);
  t.equal((await request(gw.proxyPort, '/api/ok')).status, 200);
});

t.test('a client that aborts mid-body does not take the gateway down', async (t) => {
  await new Promise<void>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: gw.proxyPort, path: '/api/upload', method: 'POST', headers: { 'Content-Length': '1000000' } });
    req.on('error', () => resolve());
    req.write(Buffer.alloc(1000, 1));
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 100);
  });
  const s = net.connect(gw.proxyPort, '127.0.0.1', () => {
    s.write('POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345');
    setTimeout(() => s.destroy(), 50);
  });
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await request(gw.proxyPort, '/api/still-up')).status, 200);
  t.equal(gw.proc.exitCode, null);
});

t.test('SIGTERM lets in-flight requests finish, then exits 0', async (t) => {
  const local = await startGateway(
    yaml('_format_version: "3.0"', 'services:', `  - url: http://127.0.0.1:${slow.port}`, '    name: s', '    routes: [{paths: [/]}]'),
  );
  const inflight = request(local.proxyPort, '/');
  await new Promise((r) => setTimeout(r, 200));
  const code = local.stop('SIGTERM');
  const r = await inflight;
  t.equal(r.status, 200);
  t.equal(r.body, 'late');
  t.equal(await code, 0);
});
