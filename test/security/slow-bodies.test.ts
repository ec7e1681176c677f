// A body trickled in byte by byte, each pause well within --client-body-timeout, is never timed out by the pause
// alone (nginx neither). --client-body-min-rate holds it to an average rate after a grace period, as Apache's
// RequestReadTimeout MinRate does: 408 if the answer has not started, else the connection is cut.
import t from 'tap';
import { runCli, startGateway, type RunningGateway } from '../helpers/cli';
import { startUpstream, type Upstream } from '../helpers/http';
import { yaml } from '../helpers/config';
import { rawExchange, startTcpServer, type TcpServer } from '../helpers/raw';

let echo: Upstream;
/** Answers a request's head at once with the start of a chunked body, and never ends it. */
let early: TcpServer;
let paced: RunningGateway;
let unpaced: RunningGateway;

t.before(async () => {
  echo = await startUpstream();
  early = await startTcpServer((socket) => {
    let head = '';
    socket.on('data', (d: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n');
    });
  });
  const config = yaml(
    '_format_version: "3.0"',
    'services:',
    '  - name: echo',
    `    url: http://127.0.0.1:${echo.port}`,
    '    routes: [{name: echo, paths: [/echo], strip_path: false}]',
    '  - name: early',
    `    url: http://127.0.0.1:${early.port}`,
    '    routes: [{name: early, paths: [/early], strip_path: false}]',
  );
  paced = await startGateway(config, { args: ['--client-body-min-rate', '100', '--client-body-min-rate-grace', '300'] });
  unpaced = await startGateway(config);
});

t.teardown(async () => {
  await paced.stop();
  await unpaced.stop();
  await echo.close();
  await early.close();
});

const BODY = 'twenty bytes of body';
/** The head, then the body one byte every 150 ms: about 7 bytes a second, a pause far shorter than 60 s. */
const trickle = (path: string) => [`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n`, ...BODY.split('')];

t.test('a trickled body below the minimum rate: 408 and closed, nothing complete upstream', async (t) => {
  const r = await rawExchange(paced.proxyPort, trickle('/echo/trickled'), { gapMs: 150, waitMs: 10_000 });
  t.equal(r.status, 408, r.text.slice(0, 80));
  t.ok(r.closed, 'connection closed by the gateway');
  t.match(r.text, /\r\nConnection: close\r\n/);
  t.match(JSON.parse(r.body), { message: 'Request timeout', request_id: /^[0-9a-f]{32}$/ });
  t.notOk(echo.seen.some((s) => s.url === '/echo/trickled'), 'the upstream never got a complete request');
});

t.test('without a minimum rate the same trickle is served', async (t) => {
  const r = await rawExchange(unpaced.proxyPort, trickle('/echo/unpaced'), { gapMs: 150, waitMs: 10_000 });
  t.equal(r.status, 200, r.text.slice(0, 80));
  t.equal(JSON.parse(r.body).body, BODY);
});

t.test('a body above the minimum rate is served', async (t) => {
  const part = 'x'.repeat(500);
  const head = `POST /echo/steady HTTP/1.1\r\nHost: x\r\nContent-Length: ${part.length * 4}\r\nConnection: close\r\n\r\n`;
  const r = await rawExchange(paced.proxyPort, [head, part, part, part, part], { gapMs: 400, waitMs: 10_000 });
  t.equal(r.status, 200, r.text.slice(0, 80));
  t.equal(JSON.parse(r.body).body.length, 2000);
});

t.test('once the answer has started, a body below the rate cuts the connection', async (t) => {
  const r = await rawExchange(paced.proxyPort, trickle('/early/trickled'), { gapMs: 150, waitMs: 10_000 });
  t.equal(r.status, 200, 'the upstream answered before the body was all sent');
  t.match(r.text, /\r\n5\r\nfirst\r\n/);
  t.ok(r.closed, 'cut');
  t.notMatch(r.text, /\r\n0\r\n\r\n/, 'never passed off as complete');
});

t.test('the gateways are still up', async (t) => {
  t.equal(paced.proc.exitCode, null);
  t.notMatch(paced.logs(), /unhandled|uncaught/i);
});

t.test('--client-body-min-rate takes a whole number of bytes a second, or off', async (t) => {
  for (const bad of ['0', '-1', '2.5', 'fast']) {
    const r = runCli(['start', '-c', 'kong.yml', '--client-body-min-rate', bad]);
    t.equal(r.status, 1, bad);
    t.match(r.stderr, /--client-body-min-rate.*whole number, at least 1, or 'off'/);
  }
  const grace = runCli(['start', '-c', 'kong.yml', '--client-body-min-rate', '100', '--client-body-min-rate-grace', '0']);
  t.equal(grace.status, 1);
  t.match(grace.stderr, /--client-body-min-rate-grace.*whole number of milliseconds/);
});
