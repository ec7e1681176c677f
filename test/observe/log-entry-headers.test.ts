import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sentHeadersJson, withoutPort } from '../../src/observe/log-entry';

/** The entry's response.headers for a response written with `headers` (a flat list, as the forwarder writes). */
async function entryHeaders(headers: string[]): Promise<string> {
  let text = '';
  const server = http.createServer((req, res) => {
    res.on('finish', () => (text = sentHeadersJson(res)));
    res.writeHead(200, headers);
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
  });
  server.close();
  return text;
}

// kong/pdk/log.lua serialize: response.headers as ngx.resp.get_headers() gives them (lowercase names, a list for
// a repeated name), set-cookie values redacted to the cookie's name.
t.test('kong/pdk/log.lua serialize: response.headers read from the sent header block', async (t) => {
  const plain = await entryHeaders(['Content-Type', 'text/plain', 'X-Kong-Upstream-Latency', '3', 'Via', '1.1 gateway']);
  t.same(Object.keys(JSON.parse(plain)).slice(0, 3), ['content-type', 'x-kong-upstream-latency', 'via'], 'lowercase names, in the order sent');

  const cases: Array<[string, string[], Record<string, unknown>]> = [
    ['a repeated name is a list', ['X-A', '1', 'x-a', '2', 'x-a', '3'], { 'x-a': ['1', '2', '3'] }],
    ['set-cookie keeps the names only', ['Set-Cookie', 'sid=secret; Path=/', 'Set-Cookie', 'b=2'], { 'set-cookie': ['sid=REDACTED', 'b=REDACTED'] }],
    ['quotes, backslashes and tabs are escaped', ['X-Q', 'say "hi"\\ \tthere'], { 'x-q': 'say "hi"\\ \tthere' }],
    ['spaces around a value are trimmed', ['X-S', '  spaced out  ', 'X-E', '', 'X-1', 'y'], { 'x-s': 'spaced out', 'x-e': '', 'x-1': 'y' }],
    ['latin1 values pass', ['X-L', 'caf\u00e9'], { 'x-l': 'caf\u00e9' }],
    ['a digit-first name is ordered as an object orders it', ['X-B', 'b', '123', 'n'], { '123': 'n', 'x-b': 'b' }],
  ];
  for (const [name, headers, expected] of cases) {
    const text = await entryHeaders(headers);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    t.match(parsed, expected, name);
    const expectedOrder = Object.keys(expected);
    t.same(Object.keys(parsed).filter((k) => expectedOrder.includes(k)), expectedOrder, `${name}: order`);
  }

  const many = Array.from({ length: 20 }, (_, i) => [`x-h${i}`, String(i)]).flat();
  const parsed = JSON.parse(await entryHeaders(many)) as Record<string, string>;
  t.equal(Object.keys(parsed).filter((k) => k.startsWith('x-h')).length, 20, 'more headers than the plain path takes');
  t.equal(parsed['x-h19'], '19');
});

t.test('the entry url takes the Host header without its port, as /:\\d+$/ removes it', async (t) => {
  for (const host of ['', 'a', 'a:', 'a:80', 'a:8o', 'example.test:8000', '[::1]', '[::1]:8443', '::1', 'a:b:12', ':5']) {
    t.equal(withoutPort(host), host.replace(/:\d+$/, ''), JSON.stringify(host));
  }
});
