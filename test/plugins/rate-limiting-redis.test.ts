// The redis policy on a real redis-server: one limit across gateway processes, and what happens while Redis is down.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, type Reply } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { startRedis, type RedisServer } from '../helpers/redis';
import { roomInWindow } from '../helpers/windows';

let redis: RedisServer;
let a: RunningGateway;
let b: RunningGateway;

const config = (redisPort: number) =>
  yaml(
    '_format_version: "3.0"',
    'routes:',
    ...[
      ['shared', '{hour: 6, limit_by: ip}'],
      ['tolerant', '{hour: 2, limit_by: ip, fault_tolerant: true}'],
      ['strict', '{hour: 2, limit_by: ip, fault_tolerant: false}'],
    ].flatMap(([name, limits]) => [
      `  - name: ${name}`,
      `    paths: [/${name}]`,
      '    plugins:',
      `      - name: rate-limiting`,
      `        config: ${limits.slice(0, -1)}, policy: redis, redis: {host: 127.0.0.1, port: ${redisPort}, timeout: 1000}}`,
      '      - {name: request-termination, config: {status_code: 200, message: served}}',
    ]),
  );

t.before(async () => {
  redis = await startRedis();
  const text = config(redis.port);
  [a, b] = await Promise.all([startGateway(text), startGateway(text)]);
});
t.teardown(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
});

const get = (gw: RunningGateway, path: string) => request(gw.proxyPort, path);

t.test('two gateways on one Redis enforce one combined limit', async (t) => {
  await roomInWindow('hour', 30_000);
  const seen: Array<[number, string | undefined]> = [];
  for (let i = 0; i < 6; i++) {
    const r = await get(i % 2 === 0 ? a : b, '/shared');
    seen.push([r.status, r.headers['x-ratelimit-remaining-hour'] as string | undefined]);
  }
  t.same(seen, [[200, '5'], [200, '4'], [200, '3'], [200, '2'], [200, '1'], [200, '0']], 'one count, whichever gateway answers');
  for (const gw of [a, b]) {
    const refused = await get(gw, '/shared');
    t.equal(refused.status, 429);
    t.equal(refused.json().message, 'API rate limit exceeded');
    t.equal(refused.headers['x-ratelimit-remaining-hour'], '0');
    t.equal(refused.headers['retry-after'], refused.headers['ratelimit-reset']);
  }
  const keys = await redis.command('KEYS ratelimit:*');
  t.match(keys, /ratelimit:[0-9a-f-]{36}:00000000-0000-0000-0000-000000000000:127\.0\.0\.1:\d+:hour/, "Kong's key: route id, service id (none), identifier, window start, period");
});

t.test('concurrent requests through both gateways never exceed the limit', async (t) => {
  await roomInWindow('hour', 30_000);
  const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => get(i % 2 === 0 ? a : b, '/tolerant')));
  t.equal(replies.filter((r) => r.status === 200).length, 2);
  t.equal(replies.filter((r) => r.status === 429).length, 10);
});

/** Polls until `pass` holds for a reply from `path`, for at most 20 s. */
async function until(gw: RunningGateway, path: string, pass: (r: Reply) => boolean): Promise<Reply> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await get(gw, path);
    if (pass(r) || Date.now() > deadline) return r;
    await sleep(100);
  }
}

const count = (gw: RunningGateway, msg: string) => gw.logs().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;

t.test('Redis down: fault_tolerant lets traffic through, strict answers 500; Redis back: limits again', async (t) => {
  await roomInWindow('hour', 60_000);
  t.equal((await get(a, '/strict')).status, 200, 'connected and counting');
  await redis.kill();

  const passing: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await get(a, '/tolerant');
    passing.push(r.status);
    if (i === 0) t.equal(r.headers['x-ratelimit-limit-hour'], undefined, 'no rate-limit headers while Redis is down');
  }
  t.same(passing, [200, 200, 200, 200, 200], 'fault_tolerant: served, over the limit of 2');

  const strict = await get(a, '/strict');
  t.equal(strict.status, 500);
  t.same(Object.keys(strict.json()).sort(), ['message', 'request_id']);
  t.equal(strict.json().message, 'An unexpected error occurred');
  t.equal((await get(a, '/strict')).status, 500);
  t.equal(count(a, 'redis unavailable'), 1, 'the outage is logged once, not per request');
  t.notMatch(a.logs(), /plugin failed/, 'no per-request error lines');

  await redis.restart();
  const back = await until(a, '/strict', (r) => r.status !== 500);
  t.equal(back.status, 200, 'strict serves again once Redis is back');
  t.equal(back.headers['x-ratelimit-remaining-hour'], '1', 'counting from scratch on the empty Redis');
  t.equal((await get(a, '/strict')).status, 200);
  t.equal((await get(a, '/strict')).status, 429, 'and limits again');
  const tolerant = await until(a, '/tolerant', (r) => r.headers['x-ratelimit-limit-hour'] !== undefined);
  t.equal(tolerant.headers['x-ratelimit-remaining-hour'], '1');
  t.equal(count(a, 'redis back'), 1, 'the recovery is logged once');
  t.equal(count(a, 'redis unavailable'), 1);
});
