// Path tricks must not reach a protected route's upstream: the path is normalized as Kong does before routing,
// and what is proxied is exactly the normalized path that was routed. `/private` is guarded by a
// request-termination (standing in for an auth plugin); `/public` is proxied.
import t from 'tap';
import { startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { rawExchange } from '../helpers/raw';

let echo: Upstream;
let gw: RunningGateway;

t.before(async () => {
  echo = await startUpstream();
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: app',
      `    url: http://127.0.0.1:${echo.port}`,
      '    routes:',
      '      - name: public',
      '        paths: [/public]',
      '        strip_path: false',
      '      - name: private',
      '        paths: [/private]',
      '        strip_path: false',
      '        plugins:',
      '          - name: request-termination',
      '            config: {status_code: 401, message: Unauthorized}',
    ),
  );
});

t.teardown(async () => {
  await gw.stop();
  await echo.close();
});

/** Sends `target` byte for byte as the request target (no client-side normalization). */
async function get(target: string) {
  const r = await rawExchange(gw.proxyPort, `GET ${target} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`);
  return { status: r.status, json: () => JSON.parse(r.body) };
}

t.test('every spelling of /private is refused, none reaches the upstream', async (t) => {
  const spellings = [
    '/private',
    '/private/',
    '/private/data?x=/public',
    '/public/../private',
    '/public/./../private',
    '/public/%2e%2e/private',
    '/public/%2E%2E/private',
    '/public/.%2e/private',
    '/public/%2e./private',
    '/public/../../../private',
    '/public/x/%2e%2e/%2e%2e/private',
    '//private',
    '///private',
    '/./private',
    '/%2e/private',
    '/%70rivate',
    '/%70%72%69%76%61%74%65',
    '/pr%69vate/data',
    'http://app.test/public/../private',
  ];
  const before = echo.seen.length;
  for (const path of spellings) {
    const r = await get(path);
    t.equal(r.status, 401, path);
    t.equal(r.json().message, 'Unauthorized', path);
  }
  t.equal(echo.seen.length, before, 'the upstream saw none of them');
});

t.test('paths are case-sensitive, as in Kong: /PRIVATE matches no route (404), it is not proxied', async (t) => {
  const before = echo.seen.length;
  for (const path of ['/PRIVATE', '/Private', '/%50RIVATE']) {
    const r = await get(path);
    t.equal(r.status, 404, path);
    t.equal(r.json().message, 'no Route matched with those values');
  }
  t.equal(echo.seen.length, before);
});

t.test('reserved bytes stay encoded: an encoded slash keeps the request under /public', async (t) => {
  // Kong decodes unreserved bytes (so %2E becomes a dot) but keeps reserved ones (%2F) encoded, hex upper-cased:
  // `..%2Fprivate` is one segment, not a dot-segment. The upstream gets that segment as it is.
  const cases: Array<[string, string]> = [
    ['/public/%2E%2E%2Fprivate', '/public/..%2Fprivate'],
    ['/public/%2e%2e%2fprivate', '/public/..%2Fprivate'],
    ['/public/..%2fprivate', '/public/..%2Fprivate'],
    ['/public/%252e%252e/private', '/public/%252e%252e/private'],
    ['/public/%c0%ae%c0%ae/private', '/public/%C0%AE%C0%AE/private'],
    ['/public/..;/private', '/public/..;/private'],
    ['/public\\..\\private', '/public%5C..%5Cprivate'],
  ];
  for (const [sent, upstream] of cases) {
    const r = await get(sent);
    t.equal(r.status, 200, sent);
    t.equal(r.json().url, upstream, sent);
    t.equal(r.json().headers['x-forwarded-path'], sent.replace(/^http:\/\/[^/]+/, ''), 'X-Forwarded-Path keeps the raw path');
  }
});

t.test('the upstream receives exactly the normalized path that was routed', async (t) => {
  const cases: Array<[string, string]> = [
    ['/public/a/./b/../c//d', '/public/a/c/d'],
    ['/public/%7euser/%41', '/public/~user/A'],
    ['/public/caf%C3%A9', '/public/caf%C3%A9'],
    ['/public/a%20b', '/public/a%20b'],
    ['/public/x/..', '/public/'],
    ['/public/%2e', '/public/'],
    ['/public/q?a=%2e%2e/../private', '/public/q?a=%2e%2e/../private'],
  ];
  for (const [sent, upstream] of cases) {
    const r = await get(sent);
    t.equal(r.status, 200, sent);
    t.equal(r.json().url, upstream, sent);
  }
});

t.test('escapes that cannot be decoded are refused', async (t) => {
  for (const path of ['/public/%zz', '/public/%2', '/public/%00/x', '/private%00']) {
    const r = await get(path);
    t.equal(r.status, 400, path);
    t.equal(r.json().message, 'Bad request');
  }
});

t.test('the upstream never saw a request for /private', async (t) => {
  t.ok(echo.seen.length > 0);
  for (const s of echo.seen) t.notMatch(s.url, /^\/+private/i);
});
