// The local policy through the real CLI: headers, 429s, every limit_by that needs no consumer, roll-over, reloads.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, startUpstream, type Reply, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { deadPort } from '../helpers/raw';
import { nextWindow, roomInWindow } from '../helpers/windows';

let gw: RunningGateway;
let upstream: Upstream;
/** Sends rate-limit headers of its own. */
let clashing: Upstream;

/** A route of the `plain` service at /<name>, with one rate-limiting config. */
const limitedRoute = (name: string, config: string) => [
  `      - name: ${name}`,
  `        paths: [/${name}]`,
  `        plugins: [{name: rate-limiting, config: ${config}}]`,
];

t.before(async () => {
  upstream = await startUpstream();
  clashing = await startUpstream((_req, res) => {
    res.writeHead(200, { 'X-RateLimit-Limit-Hour': 'from upstream', 'RateLimit-Remaining': 'from upstream', 'X-Upstream': 'yes' });
    res.end('ok');
  });
  const dead = await deadPort();
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: api',
      `    url: http://127.0.0.1:${upstream.port}`,
      '    plugins: [{name: rate-limiting, config: {hour: 3, limit_by: service}}]',
      '    routes:',
      '      - {name: api-a, paths: [/api-a]}',
      '      - {name: api-b, paths: [/api-b]}',
      '  - name: plain',
      `    url: http://127.0.0.1:${upstream.port}`,
      '    routes:',
      ...limitedRoute('ip', '{minute: 3, hour: 10, limit_by: ip}'),
      ...limitedRoute('header', '{hour: 2, limit_by: header, header_name: X-Tenant}'),
      ...limitedRoute('path', '{hour: 1, limit_by: path, path: /path/report}'),
      ...limitedRoute('hidden', '{hour: 1, limit_by: ip, hide_client_headers: true}'),
      ...limitedRoute('custom', '{hour: 1, limit_by: ip, error_code: 418, error_message: Slow down}'),
      ...limitedRoute('second', '{second: 2, limit_by: ip}'),
      ...limitedRoute('kept', '{hour: 3, limit_by: ip}'),
      '  - name: clashing',
      `    url: http://127.0.0.1:${clashing.port}`,
      '    routes:',
      ...limitedRoute('clash', '{hour: 5, limit_by: ip}'),
      ...limitedRoute('clash-hidden', '{hour: 5, limit_by: ip, hide_client_headers: true}'),
      '  - name: down',
      `    url: http://127.0.0.1:${dead}`,
      '    routes:',
      ...limitedRoute('down', '{hour: 5, limit_by: ip}'),
      'routes:',
      '  - name: serviceless',
      '    paths: [/serviceless]',
      '    plugins:',
      '      - {name: rate-limiting, config: {hour: 1, limit_by: service}}',
      '      - {name: request-termination, config: {status_code: 200, message: answered here}}',
    ),
  );
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
  await clashing.close();
});

const get = (path: string, headers?: Record<string, string>) => request(gw.proxyPort, path, { headers });
const statuses = async (path: string, n: number, headers?: Record<string, string>) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(path, headers)).status);
  return out;
};
const rateHeaders = (r: Reply) =>
  Object.fromEntries(Object.entries(r.headers).filter(([k]) => k.startsWith('x-ratelimit') || k.startsWith('ratelimit') || k === 'retry-after'));

t.test('limit_by ip: headers count down, then 429 with Kong’s body and Retry-After', async (t) => {
  await roomInWindow('minute', 10_000);
  const remaining: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await get('/ip');
    t.equal(r.status, 200);
    t.equal(r.headers['x-upstream'], 'yes', 'proxied');
    remaining.push(r.headers['x-ratelimit-remaining-minute'] as string);
    t.equal(r.headers['x-ratelimit-limit-minute'], '3');
    t.equal(r.headers['x-ratelimit-limit-hour'], '10');
    t.equal(r.headers['ratelimit-limit'], '3', 'RateLimit-* follow the tightest period');
  }
  t.same(remaining, ['2', '1', '0']);
  const refused = await get('/ip');
  t.equal(refused.status, 429);
  t.equal(refused.json().message, 'API rate limit exceeded');
  t.match(refused.json().request_id, /^[0-9a-f]+$/);
  t.equal(refused.headers['content-type'], 'application/json; charset=utf-8');
  t.equal(refused.headers['x-ratelimit-remaining-minute'], '0');
  t.equal(refused.headers['x-ratelimit-remaining-hour'], '7', 'the hour still has room: not decremented for a refused request');
  t.equal(refused.headers['ratelimit-remaining'], '0');
  const reset = Number(refused.headers['ratelimit-reset']);
  t.ok(reset >= 1 && reset <= 60, `RateLimit-Reset ${reset} is the seconds left in the minute`);
  t.equal(refused.headers['retry-after'], refused.headers['ratelimit-reset']);
  const forwarded = upstream.seen.length;
  await get('/ip');
  t.equal(upstream.seen.length, forwarded, 'a refused request never reaches the upstream');
  t.equal((await get('/ip', { 'X-Forwarded-For': '198.51.100.7' })).status, 429, 'X-Forwarded-For does not buy a new counter');
});

t.test('limit_by header: a counter per value, the client IP without it', async (t) => {
  await roomInWindow('hour', 10_000);
  t.same(await statuses('/header', 3, { 'X-Tenant': 'acme' }), [200, 200, 429]);
  t.same(await statuses('/header', 2, { 'x-tenant': 'globex' }), [200, 200], 'another value, another counter');
  t.same(await statuses('/header', 3), [200, 200, 429], 'no header: counted by IP');
});

t.test('limit_by path: the configured path has its own counter', async (t) => {
  await roomInWindow('hour', 10_000);
  t.same(await statuses('/path/report', 2), [200, 429]);
  t.same(await statuses('/path/other', 2), [200, 429], 'other paths share the IP counter');
  t.equal((await get('/path/./report')).status, 429, 'the path is compared normalized');
});

t.test('limit_by service: every route of the service shares one counter', async (t) => {
  await roomInWindow('hour', 10_000);
  t.same([(await get('/api-a')).status, (await get('/api-b')).status, (await get('/api-a')).status], [200, 200, 200]);
  const refused = await get('/api-b');
  t.equal(refused.status, 429);
  t.equal(refused.headers['x-ratelimit-limit-hour'], '3');
  t.same(await statuses('/serviceless', 2), [200, 429], 'no service: counted by IP');
});

t.test('hide_client_headers: no rate-limit headers, on 200 or 429', async (t) => {
  await roomInWindow('hour', 10_000);
  const ok = await get('/hidden');
  t.equal(ok.status, 200);
  t.same(rateHeaders(ok), {});
  const refused = await get('/hidden');
  t.equal(refused.status, 429);
  t.same(rateHeaders(refused), {}, 'not even Retry-After');
});

t.test('an upstream’s own rate-limit headers win over the plugin’s of the same name', async (t) => {
  await roomInWindow('hour', 10_000);
  const r = await get('/clash');
  t.equal(r.headers['x-upstream'], 'yes');
  t.same(rateHeaders(r), {
    'x-ratelimit-limit-hour': 'from upstream',
    'x-ratelimit-remaining-hour': '4',
    'ratelimit-limit': '5',
    'ratelimit-remaining': 'from upstream',
    'ratelimit-reset': r.headers['ratelimit-reset'],
  });
  t.match(r.headers['ratelimit-reset'], /^\d+$/);
  const hidden = await get('/clash-hidden');
  t.same(rateHeaders(hidden), { 'x-ratelimit-limit-hour': 'from upstream', 'ratelimit-remaining': 'from upstream' }, 'hidden: only the upstream’s');
});

t.test('a counted request whose upstream fails: the 502 carries the rate-limit headers', async (t) => {
  await roomInWindow('hour', 10_000);
  const r = await get('/down', { 'X-Request-Id': 'down-1' });
  t.equal(r.status, 502);
  t.equal(r.headers['x-ratelimit-remaining-hour'], '4');
  t.equal(r.headers['ratelimit-limit'], '5');
  t.equal(r.headers['x-request-id'], 'down-1');
  t.equal(r.headers['x-kong-request-id'], 'down-1');
});

t.test('error_code and error_message', async (t) => {
  await roomInWindow('hour', 10_000);
  t.equal((await get('/custom')).status, 200);
  const refused = await get('/custom');
  t.equal(refused.status, 418);
  t.equal(refused.json().message, 'Slow down');
  t.equal(refused.headers['retry-after'], refused.headers['ratelimit-reset']);
});

t.test('window roll-over: a new second, a new count', async (t) => {
  await nextWindow('second');
  t.same(await statuses('/second', 3), [200, 200, 429]);
  const refused = await get('/second');
  t.equal(refused.headers['retry-after'], '1');
  await nextWindow('second');
  const fresh = await get('/second');
  t.equal(fresh.status, 200);
  t.equal(fresh.headers['x-ratelimit-remaining-second'], '1');
});

t.test('counters survive a reload', async (t) => {
  await roomInWindow('hour', 30_000);
  t.same(await statuses('/kept', 2), [200, 200]);
  const file = gw.configFile;
  const text = readFileSync(file, 'utf8');
  // An unrelated change: the rate-limiting configs are the same, so their counters carry over as they are.
  writeFileSync(file, text.replace('message: answered here', 'message: answered again'));
  await reload(1);
  const after = await get('/kept');
  t.equal(after.status, 200);
  t.equal(after.headers['x-ratelimit-remaining-hour'], '0', 'the count went on from 2');
  t.equal((await get('/kept')).status, 429);
  // A changed limit: as in Kong, the counters belong to the scope, not to the config, so they carry over too.
  writeFileSync(file, readFileSync(file, 'utf8').replace('{hour: 3, limit_by: ip}', '{hour: 5, limit_by: ip}'));
  await reload(2);
  const raised = await get('/kept');
  t.equal(raised.status, 200);
  t.equal(raised.headers['x-ratelimit-remaining-hour'], '1', '5 − 3 used − this one');
});

/** Sends SIGHUP and waits for the gateway's `n`th "config reloaded" line. */
async function reload(n: number): Promise<void> {
  gw.proc.kill('SIGHUP');
  const deadline = Date.now() + 10_000;
  while ((gw.logs().match(/"msg":"config reloaded"/g) ?? []).length < n) {
    if (Date.now() > deadline) throw new Error(`no reload:\n${gw.logs()}`);
    await sleep(20);
  }
}
