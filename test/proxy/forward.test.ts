import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';

let upstream: Upstream;
let gw: RunningGateway;

/** Sends raw bytes on a fresh connection and returns everything the gateway wrote until it closed. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
  });
}

/** One GET on a keep-alive connection. */
function keptAlive(port: number, path: string): Promise<{ headers: http.IncomingHttpHeaders; body: string }> {
  const agent = new http.Agent({ keepAlive: true });
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          agent.destroy();
          resolve({ headers: res.headers, body });
        });
      })
      .on('error', reject);
  });
}

t.before(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.url === '/cookies') {
      res.writeHead(299, 'Custom Reason', [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['X-Twice', 'x'], ['X-Twice', 'y']].flat());
      return res.end('cookies');
    }
    if (req.url === '/repeats') {
      const lines = [
        ['Set-Cookie', 'only=1'],
        ['Via', '1.1 a'],
        ['Via', '1.1 b'],
        ['Content-Type', 'text/plain'],
        ['Content-Type', 'text/html'],
        ['Connection', 'keep-alive'],
        ['Connection', 'X-Secret'],
        ['X-Secret', 's'],
      ];
      res.writeHead(200, lines.flat());
      return res.end('repeats');
    }
    if (req.url === '/hop') {
      res.writeHead(200, { Connection: 'keep-alive, X-Private', 'Keep-Alive': 'timeout=5', 'X-Private': 'between us', 'X-Public': 'yes' });
      return res.end('hop');
    }
    if (req.url === '/chunked') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('part one, ');
      return setTimeout(() => res.end('part two'), 20);
    }
    if (req.url === '/cut') {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '100' });
      res.write('only some');
      return setTimeout(() => res.socket!.destroy(), 20);
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ method: req.method, headers: req.headers }));
  });
  gw = await startGateway(
    yaml('_format_version: "3.0"', 'services:', '  - name: up', `    url: http://127.0.0.1:${upstream.port}`, '    routes:', '      - name: all', '        paths: [/]'),
  );
});

t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

t.test('a body-less DELETE or OPTIONS reaches the upstream framed with Content-Length: 0', async (t) => {
  for (const method of ['DELETE', 'OPTIONS']) {
    const r = await request(gw.proxyPort, '/echo', { method });
    t.equal(r.json().method, method);
    t.equal(r.json().headers['content-length'], '0');
    t.equal(r.json().headers['transfer-encoding'], undefined);
  }
  const withBody = await request(gw.proxyPort, '/echo', { method: 'DELETE', body: 'abc', headers: { 'Content-Length': '3' } });
  t.equal(withBody.json().headers['content-length'], '3');
  const chunked = await request(gw.proxyPort, '/echo', { method: 'DELETE', headers: { 'Transfer-Encoding': 'chunked' }, chunks: ['ab', 'c'] });
  t.equal(chunked.json().headers['transfer-encoding'], 'chunked', 'a chunked body is not reframed as empty');
  t.equal(upstream.seen.at(-1)!.body, 'abc');
});

t.test('repeated upstream headers and the reason phrase reach the client', async (t) => {
  const got = await raw(gw.proxyPort, 'GET /cookies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(got, /^HTTP\/1\.1 299 Custom Reason\r\n/);
  t.match(got, /\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n/i);
  t.match(got, /\r\nx-twice: x, y\r\n/i);
  t.match(got, /\r\n\r\n(7\r\n)?cookies(\r\n0\r\n\r\n)?$/);
});

t.test('repeated Via, Content-Type and Connection lines are merged as node:http merges them', async (t) => {
  const got = await raw(gw.proxyPort, 'GET /repeats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(got, /\r\nset-cookie: only=1\r\n/i);
  t.match(got, /\r\nvia: 1\.1 a, 1\.1 b, 1\.1 gateway\/[^\r]+\r\n/i, "the upstream's Via lines, then the gateway's");
  t.match(got, /\r\ncontent-type: text\/plain\r\n/i, 'the first Content-Type');
  t.notMatch(got, /text\/html/);
  t.notMatch(got, /x-secret/i, 'named by the second Connection line');
});

t.test('an HTTP/1.0 client gets an unframed body and a closed connection', async (t) => {
  const got = await raw(gw.proxyPort, 'GET /chunked HTTP/1.0\r\nHost: x\r\n\r\n');
  t.match(got, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(got, /\r\nconnection: close\r\n/i);
  t.notMatch(got, /transfer-encoding/i);
  t.match(got, /\r\n\r\npart one, part two$/);
});

t.test('an HTTP/1.1 client gets the upstream body re-chunked, and its own Connection choice', async (t) => {
  const got = await raw(gw.proxyPort, 'GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(got, /\r\ntransfer-encoding: chunked\r\n/i);
  t.match(got, /\r\nconnection: close\r\n/i);
  const r = await keptAlive(gw.proxyPort, '/chunked');
  t.equal(r.body, 'part one, part two');
  t.equal(r.headers['connection'], 'keep-alive');
});

t.test("the upstream's hop-by-hop headers stay on the upstream connection", async (t) => {
  const r = await keptAlive(gw.proxyPort, '/hop');
  t.equal(r.body, 'hop');
  t.equal(r.headers['x-public'], 'yes');
  t.equal(r.headers['x-private'], undefined);
  // the gateway's own keep-alive terms, not the upstream's
  t.not(r.headers['keep-alive'], 'timeout=5');
  t.equal(r.headers['connection'], 'keep-alive');
});

t.test('an upstream that dies mid-body: the client sees the response cut short', async (t) => {
  const got = await raw(gw.proxyPort, 'GET /cut HTTP/1.1\r\nHost: x\r\n\r\n');
  t.match(got, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(got, /\r\ncontent-length: 100\r\n/i);
  t.match(got, /\r\n\r\nonly some$/);
  t.equal((await request(gw.proxyPort, '/echo')).status, 200);
});
