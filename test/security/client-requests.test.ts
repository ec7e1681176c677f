// Hostile and broken clients: oversized and malformed requests, ambiguous framing (request smuggling), slow
// headers and slow bodies. Every refusal is a JSON 4xx followed by a closed connection, and nothing of a refused
// request reaches the upstream (checked on the upstream's raw bytes).
import t, { type Test } from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { runCli, startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { rawExchange, startRawUpstream, type RawReply, type RawUpstream } from '../helpers/raw';

let raw: RawUpstream;
let echo: Upstream;
let gw: RunningGateway;

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

t.before(async () => {
  raw = await startRawUpstream();
  echo = await startUpstream();
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: raw',
      `    url: http://127.0.0.1:${raw.port}`,
      '    routes: [{name: raw, paths: [/], strip_path: false}]',
      '  - name: echo',
      `    url: http://127.0.0.1:${echo.port}`,
      '    routes: [{name: echo, paths: [/echo], strip_path: false}]',
    ),
    { args: ['--client-header-timeout', '500', '--client-body-timeout', '500'] },
  );
});

t.teardown(async () => {
  await gw.stop();
  await raw.close();
  await echo.close();
});

function refused(t: Test, r: RawReply, status: number, message: string): void {
  t.equal(r.status, status, r.text.slice(0, 60));
  t.ok(r.closed, 'connection closed by the gateway');
  t.match(r.text, /\r\nContent-Type: application\/json; charset=utf-8\r\n/);
  t.match(r.text, /\r\nConnection: close\r\n/);
  const body = JSON.parse(r.body);
  t.equal(body.message, message);
  t.match(body.request_id, /^[0-9a-f]{32}$/);
}

t.test('oversized headers: 431 and closed', async (t) => {
  const before = raw.received().length;
  const long = await rawExchange(gw.proxyPort, `GET /x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  refused(t, long, 431, 'Request header or cookie too large');
  const lines = Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n');
  const many = await rawExchange(gw.proxyPort, `GET /x HTTP/1.1\r\nHost: x\r\n${lines}\r\n\r\n`);
  refused(t, many, 431, 'Request header or cookie too large');
  const url = await rawExchange(gw.proxyPort, `GET /${'u'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  refused(t, url, 431, 'Request header or cookie too large');
  t.equal(raw.received().length, before, 'nothing reached the upstream');
});

t.test('more header lines than the parser keeps (2000): 431 and closed, nothing forwarded', async (t) => {
  // Short lines, so the whole head stays under the 16 KB size limit: only the count can refuse them.
  const filler = (n: number) => Array.from({ length: n }, (_, i) => `f${i.toString(36)}:x`);
  const body = 'the body that went missing';
  const before = raw.received().length;
  const post = await rawExchange(gw.proxyPort, [`POST /x HTTP/1.1\r\nHost: x\r\n${filler(2100).join('\r\n')}\r\nContent-Length: ${body.length}\r\n\r\n`, body]);
  refused(t, post, 431, 'Request header or cookie too large');
  const secondHost = await rawExchange(gw.proxyPort, `GET /x HTTP/1.1\r\nHost: x\r\n${filler(1999).join('\r\n')}\r\nHost: evil.test\r\n\r\n`);
  refused(t, secondHost, 431, 'Request header or cookie too large');
  t.equal(raw.received().length, before, 'nothing reached the upstream');

  // 2000 lines (Host, 1998 fillers, Content-Length) are all kept and forwarded, the body with them.
  const r = await rawExchange(gw.proxyPort, `POST /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${filler(1997).join('\r\n')}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  t.equal(r.status, 200, r.text.slice(0, 80));
  const got = raw.received().slice(before);
  t.match(got, /\r\nf1jg: x\r\n/i, 'the last filler line reached the upstream');
  t.ok(got.endsWith(`\r\n\r\n${body}`), 'and the body');
});

t.test('malformed request line or header: 400 and closed, nothing forwarded', async (t) => {
  const cases: Record<string, string> = {
    'invalid method': 'G@T /x HTTP/1.1\r\nHost: x\r\n\r\n',
    'unknown version': 'GET /x HTTP/9.9\r\nHost: x\r\n\r\n',
    'space in the target': 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n',
    'tab in the target': 'GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n',
    'bare LF line ends': 'GET /x HTTP/1.1\nHost: x\n\n',
    'space in a header name': 'GET /x HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n',
    'control byte in a value': 'GET /x HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n',
    'NUL in a value': 'GET /x HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n',
    'header without colon': 'GET /x HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n',
    'obsolete line folding': 'GET /x HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n',
    'no Host on HTTP/1.1': 'GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n',
    'two Host headers': 'GET /x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n',
    'garbage': '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n',
  };
  const before = raw.received().length;
  for (const [name, bytes] of Object.entries(cases)) {
    t.test(name, async (t) => refused(t, await rawExchange(gw.proxyPort, bytes), 400, 'Bad request'));
  }
  await t.test('(all done)', async () => {});
  t.equal(raw.received().length, before, 'nothing reached the upstream');
  t.equal((await request(gw.proxyPort, '/echo/after')).status, 200, 'still serving');
});

t.test('request smuggling: ambiguous framing is refused, the connection closed, nothing forwarded', async (t) => {
  const body = `0\r\n\r\n${SMUGGLED}`;
  const cases: Record<string, string> = {
    'Content-Length with Transfer-Encoding': `POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
    'Transfer-Encoding with Content-Length': `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n${body}`,
    'duplicate Content-Length, same value': `POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello${SMUGGLED}`,
    'duplicate Content-Length, different values': `POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello${SMUGGLED}`,
    'Content-Length list': `POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello${SMUGGLED}`,
    'signed Content-Length': `POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello${SMUGGLED}`,
    'Transfer-Encoding: chunked, identity': `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n${body}`,
    'Transfer-Encoding: identity': `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n${body}`,
    'Transfer-Encoding: xchunked': `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n${body}`,
    'Transfer-Encoding: gzip, chunked': `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${body}`,
    'Transfer-Encoding twice': `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
    'space before the colon': `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n${body}`,
    'folded Transfer-Encoding': `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n${body}`,
    'Transfer-Encoding on HTTP/1.0': `POST /x HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
    'invalid chunk size': `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
  };
  for (const [name, bytes] of Object.entries(cases)) {
    t.test(name, async (t) => {
      const before = raw.received().length;
      const r = await rawExchange(gw.proxyPort, bytes);
      refused(t, r, 400, 'Bad request');
      t.equal((r.text.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'one answer only');
      if (name !== 'invalid chunk size') t.equal(raw.received().length, before, 'no byte reached the upstream');
    });
  }
  await t.test('(all done)', async () => {});
  t.notMatch(raw.received(), /smuggled/, 'the smuggled request never reached the upstream');
  // the invalid chunk is refused while the head may already be on its way: the upstream must not see a whole body
  t.notMatch(raw.received(), /hello\r\n0\r\n\r\n/);
});

t.test('a bad request pipelined after a good one: nothing smuggled, connection closed', async (t) => {
  const r = await rawExchange(
    gw.proxyPort,
    `GET /first HTTP/1.1\r\nHost: x\r\n\r\nPOST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  );
  t.ok(r.closed);
  t.match(r.text, /HTTP\/1\.1 (200|400) /);
  t.notMatch(raw.received(), /smuggled/);
  t.equal((await request(gw.proxyPort, '/echo/after')).status, 200);
});

t.test('slow headers: 408 after --client-header-timeout, connection closed', async (t) => {
  const partial = await rawExchange(gw.proxyPort, ['GET /x HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n'], { gapMs: 100 });
  refused(t, partial, 408, 'Request timeout');
  const silent = await rawExchange(gw.proxyPort, [], {});
  refused(t, silent, 408, 'Request timeout');
  // byte by byte, each pause well under the timeout: it is the total that counts for the head
  const drip = 'GET /echo/drip HTTP/1.1\r\nHost: x\r\nX-Pad: 0123456789\r\n\r\n'.split('');
  const dripped = await rawExchange(gw.proxyPort, drip, { gapMs: 40 });
  refused(t, dripped, 408, 'Request timeout');
});

t.test('slow body: 408 after --client-body-timeout of silence, connection closed', async (t) => {
  const r = await rawExchange(gw.proxyPort, 'POST /echo/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n123');
  refused(t, r, 408, 'Request timeout');
  const chunked = await rawExchange(gw.proxyPort, 'POST /echo/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
  refused(t, chunked, 408, 'Request timeout');
  t.notOk(echo.seen.some((s) => s.url === '/echo/upload'), 'the upstream never got a complete request');
});

t.test('a body that keeps coming, slower in total than the timeout, is fine', async (t) => {
  const parts = ['POST /echo/steady HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: close\r\n\r\n', ...'steady drops'.split('')];
  const r = await rawExchange(gw.proxyPort, parts, { gapMs: 100 });
  t.equal(r.status, 200, r.text.slice(0, 200));
  t.equal(JSON.parse(r.body).body, 'steady drops');
});

t.test('the gateway is still up and serving', async (t) => {
  t.equal((await request(gw.proxyPort, '/echo/end')).status, 200);
  t.equal(gw.proc.exitCode, null);
  t.notMatch(gw.logs(), /unhandled|uncaught/i);
});

t.test('the timeout flags take whole milliseconds', async (t) => {
  for (const bad of ['abc', '0', '-5', '1.5']) {
    const r = runCli(['start', '-c', 'kong.yml', '--client-body-timeout', bad]);
    t.equal(r.status, 1, bad);
    t.match(r.stderr, /--client-body-timeout.*whole number of milliseconds/);
  }
  for (const flag of ['--lingering-time', '--lingering-timeout']) {
    const r = runCli(['start', '-c', 'kong.yml', flag, '0']);
    t.equal(r.status, 1, flag);
    t.match(r.stderr, new RegExp(`${flag}.*whole number of milliseconds`));
  }
});
