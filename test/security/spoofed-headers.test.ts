// Client-sent copies of the headers only the gateway may set (X-Consumer-*, X-Credential-Identifier,
// X-Anonymous-Consumer, X-Consumer-Groups) never reach an upstream: checked on the bytes the upstream received.
import t, { type Test } from 'tap';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { rawExchange, startRawUpstream, type RawUpstream } from '../helpers/raw';

let raw: RawUpstream;
let gw: RunningGateway;

const ASSERTED = [
  'X-Consumer-ID',
  'X-Consumer-Custom-ID',
  'X-Consumer-Username',
  'X-Credential-Identifier',
  'X-Anonymous-Consumer',
  'X-Consumer-Groups',
];
const SPOOF = /x[-_]consumer|x[-_]credential|x[-_]anonymous|spoofed/i;

t.before(async () => {
  raw = await startRawUpstream();
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: raw',
      `    url: http://127.0.0.1:${raw.port}`,
      '    routes: [{name: all, paths: [/]}]',
    ),
  );
});

t.teardown(async () => {
  await gw.stop();
  await raw.close();
});

function oddCase(name: string, seed: number): string {
  return [...name].map((c, i) => ((i + seed) % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('');
}

/** Sends one request with `headerLines` and returns the bytes the upstream received for it. */
async function forwarded(t: Test, headerLines: string[], body = ''): Promise<string> {
  const before = raw.received().length;
  const r = await rawExchange(gw.proxyPort, `POST /check HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n${headerLines.join('\r\n')}\r\n\r\n${body}`);
  t.equal(r.status, 200, r.text.slice(0, 60));
  const got = raw.received().slice(before);
  t.match(got, /^POST \/check HTTP\/1\.1\r\n/, 'the request was forwarded');
  t.match(got, /\r\nx-legit: kept\r\n/i, 'ordinary headers pass');
  return got;
}

t.test('each header, in any case', async (t) => {
  for (const name of ASSERTED) {
    for (const spelling of [name, name.toLowerCase(), name.toUpperCase(), oddCase(name, 0), oddCase(name, 1)]) {
      const got = await forwarded(t, [`${spelling}: spoofed`, 'X-Legit: kept', 'Content-Length: 0']);
      t.notMatch(got, SPOOF, spelling);
    }
  }
});

t.test('repeated, in mixed cases, with odd values', async (t) => {
  const lines = ['X-Legit: kept', 'Content-Length: 0'];
  for (const name of ASSERTED) {
    lines.push(`${name}: spoofed`, `${name.toLowerCase()}: spoofed-2`, `${name.toUpperCase()}:spoofed-3`, `${oddCase(name, 1)}:   \t spoofed-4 \t`, `${name}:`);
  }
  t.notMatch(await forwarded(t, lines), SPOOF);
});

t.test('underscore spellings, which CGI-style upstreams read as the same header', async (t) => {
  const lines = ['X-Legit: kept', 'Content-Length: 0'];
  for (const name of ASSERTED) {
    lines.push(`${name.replace(/-/g, '_')}: spoofed`, `${name.replace('-', '_')}: spoofed`, `${name.toLowerCase().replace(/-/g, '_')}: spoofed`);
  }
  t.notMatch(await forwarded(t, lines), SPOOF);
});

t.test('with a body, chunked, and in trailers', async (t) => {
  const lines = ['X-Legit: kept', 'Transfer-Encoding: chunked', ...ASSERTED.map((n) => `${n}: spoofed`)];
  const got = await forwarded(t, lines, `4\r\nbody\r\n0\r\nX-Consumer-ID: spoofed\r\nX-Anonymous-Consumer: true\r\n\r\n`);
  t.notMatch(got, SPOOF);
  t.match(got, /\r\n4\r\nbody\r\n0\r\n\r\n$/, 'the body arrives, the trailers do not');
});

t.test('headers that merely look alike are left alone', async (t) => {
  const got = await forwarded(t, ['X-Legit: kept', 'Content-Length: 0', 'X-Consumerish: yes', 'Consumer-ID: yes']);
  t.match(got, /\r\nx-consumerish: yes\r\n/i);
  t.match(got, /\r\nconsumer-id: yes\r\n/i);
});
