// The limiter's parts on their own: windows, counting, headers, whose counter a request uses, and which
// config applies to which consumer. Requests here are real (an in-process HTTP server on loopback); the
// consumer and credential are set on the context the way an auth plugin sets them.
import t from 'tap';
import http, { IncomingMessage, ServerResponse } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { snapshotOf, yaml } from '../helpers/config';
import { request, type Reply } from '../helpers/http';
import { roomInWindow } from '../helpers/windows';
import { RequestContext } from '../../src/proxy/context';
import { identify } from '../../src/plugins/rate-limiting/identify';
import { windowAt, secondsLeft, CurrentWindows, PERIODS, type PeriodIndex } from '../../src/plugins/rate-limiting/windows';
import { ScopeCounters, MAX_IDENTIFIERS_PER_WINDOW } from '../../src/plugins/rate-limiting/local-counters';
import { writeRateLimitHeaders } from '../../src/plugins/rate-limiting/headers';
import type { Snapshot } from '../../src/config/snapshot';

const at = (iso: string) => Date.parse(iso);
const P = (name: (typeof PERIODS)[number]) => PERIODS.indexOf(name) as PeriodIndex;

t.test('windows are fixed and aligned to the UTC calendar', async (t) => {
  const now = at('2024-02-29T13:45:30.250Z');
  const w = { start: 0, end: 0 };
  const span = (p: PeriodIndex) => {
    windowAt(p, now, w);
    return [new Date(w.start).toISOString(), new Date(w.end).toISOString()];
  };
  t.same(span(P('second')), ['2024-02-29T13:45:30.000Z', '2024-02-29T13:45:31.000Z']);
  t.same(span(P('minute')), ['2024-02-29T13:45:00.000Z', '2024-02-29T13:46:00.000Z']);
  t.same(span(P('hour')), ['2024-02-29T13:00:00.000Z', '2024-02-29T14:00:00.000Z']);
  t.same(span(P('day')), ['2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z']);
  t.same(span(P('month')), ['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'], 'a leap February has 29 days');
  t.same(span(P('year')), ['2024-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z']);
  windowAt(P('month'), at('2023-12-31T23:59:59.999Z'), w);
  t.equal(new Date(w.end).toISOString(), '2024-01-01T00:00:00.000Z', 'December rolls into the next year');
  windowAt(P('minute'), at('2024-01-01T00:01:00.000Z'), w);
  t.equal(new Date(w.start).toISOString(), '2024-01-01T00:01:00.000Z', 'a boundary instant opens the new window');
});

t.test('seconds left in a window, as RateLimit-Reset counts them', async (t) => {
  const end = at('2024-01-01T00:01:00Z');
  t.equal(secondsLeft(end, at('2024-01-01T00:00:00.000Z')), 60);
  t.equal(secondsLeft(end, at('2024-01-01T00:00:00.900Z')), 60, 'counted from the current whole second');
  t.equal(secondsLeft(end, at('2024-01-01T00:00:59.999Z')), 1);
  t.equal(secondsLeft(end, at('2024-01-01T00:01:00.000Z')), 1, 'never below 1');
  const windows = new CurrentWindows();
  const [minute, month] = [P('minute'), P('month')];
  const ws = windows.at([minute, month], at('2024-03-31T10:00:00Z'));
  t.equal(secondsLeft(ws[month].end, at('2024-03-31T10:00:00Z')), 14 * 3600, 'a month ends on its last calendar day');
  t.equal(windows.at([minute], at('2024-03-31T10:01:30Z'))[minute].start, at('2024-03-31T10:01:00Z'), 'rolls when the window ended');
});

t.test('counting: Kong’s decision, refused requests not counted, windows roll over', async (t) => {
  const counters = new ScopeCounters('test');
  const periods = [P('second'), P('minute')];
  const limits = [2, 3];
  const usage = [0, 0];
  const t0 = at('2024-01-01T00:00:10.000Z');
  t.equal(counters.take('a', periods, limits, t0, usage), true);
  t.same(usage, [0, 0], 'usage is the count before this request');
  t.equal(counters.take('a', periods, limits, t0 + 100, usage), true);
  t.same(usage, [1, 1]);
  t.equal(counters.take('a', periods, limits, t0 + 200, usage), false, 'the second is used up');
  t.same(usage, [2, 2]);
  t.equal(counters.take('a', periods, limits, t0 + 300, usage), false);
  t.same(usage, [2, 2], 'refused requests are not counted');
  t.equal(counters.take('b', periods, limits, t0 + 300, usage), true, 'another identifier has its own counter');
  t.equal(counters.take('a', periods, limits, t0 + 1000, usage), true, 'a new second');
  t.same(usage, [0, 2]);
  t.equal(counters.take('a', periods, limits, t0 + 1100, usage), false, 'now the minute is used up');
  t.same(usage, [1, 3]);
  t.equal(counters.take('a', periods, limits, t0 + 50_000, usage), true, 'the next minute starts afresh');
  t.same(usage, [0, 0]);
  counters.sweep(t0 + 120_000);
  t.equal(counters.windows[P('minute')].counts.size, 0, 'a sweep drops windows that ended');
});

t.test('counting: a window holds a bounded number of identifiers', async (t) => {
  const counters = new ScopeCounters('bounded');
  const usage = [0];
  const now = at('2024-01-01T00:00:00Z');
  for (let i = 0; i < MAX_IDENTIFIERS_PER_WINDOW + 10; i++) counters.take(`id${i}`, [P('day')], [5], now, usage);
  const counts = counters.windows[P('day')].counts;
  t.equal(counts.size, MAX_IDENTIFIERS_PER_WINDOW);
  t.notOk(counts.has('id0'), 'the oldest made room');
  t.equal(counts.get(`id${MAX_IDENTIFIERS_PER_WINDOW + 9}`), 1);
});

function headersAfter(periods: PeriodIndex[], limits: number[], usage: number[], allowed: boolean, now: number) {
  const list: string[] = [];
  const windows = new CurrentWindows().at(periods, now);
  const reset = writeRateLimitHeaders(list, { periods, limits, limitValues: limits.map(String) }, usage, windows, allowed, now);
  const headers: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) headers[list[i].toLowerCase()] = list[i + 1];
  return { reset, headers };
}

t.test('headers: remaining after this request; the tightest period in RateLimit-*', async (t) => {
  const now = at('2024-01-01T10:20:30.400Z');
  const ok = headersAfter([P('second'), P('minute'), P('hour')], [5, 10, 100], [0, 6, 50], true, now);
  t.same(ok.headers, {
    'x-ratelimit-limit-second': '5',
    'x-ratelimit-remaining-second': '4',
    'x-ratelimit-limit-minute': '10',
    'x-ratelimit-remaining-minute': '3',
    'x-ratelimit-limit-hour': '100',
    'x-ratelimit-remaining-hour': '49',
    'ratelimit-limit': '10',
    'ratelimit-remaining': '3',
    'ratelimit-reset': '30',
  });
  const tie = headersAfter([P('minute'), P('hour')], [10, 20], [5, 15], true, now);
  t.equal(tie.headers['ratelimit-limit'], '20', 'a tie goes to the longer window');
  t.equal(tie.headers['ratelimit-reset'], String(39 * 60 + 30));
  const refused = headersAfter([P('minute'), P('hour')], [10, 100], [10, 40], false, now);
  t.equal(refused.headers['x-ratelimit-remaining-minute'], '0', 'the used-up period floors at 0');
  t.equal(refused.headers['x-ratelimit-remaining-hour'], '60', 'a period with room keeps limit − usage on a refusal');
  t.equal(refused.headers['ratelimit-remaining'], '0');
  t.equal(refused.reset, 30, 'Retry-After: the end of the used-up minute');
  const both = headersAfter([P('minute'), P('hour')], [10, 10], [10, 10], false, now);
  t.equal(both.reset, 39 * 60 + 30, 'both used up: wait for the longer one');
  const fractional = headersAfter([P('minute')], [2.5], [0], true, now);
  t.equal(fractional.headers['x-ratelimit-remaining-minute'], '1.5', 'limits need not be integers');
});

// ---- Whose counter, and which config: real requests on an in-process server ----

const config = yaml(
  '_format_version: "3.0"',
  'services:',
  '  - name: svc',
  '    url: http://127.0.0.1:9',
  '    routes:',
  '      - {name: in-svc, paths: [/svc]}',
  '      - name: own',
  '        paths: [/own]',
  '        plugins: [{name: rate-limiting, config: {day: 2, limit_by: ip}}]',
  'routes:',
  '  - {name: bare, paths: [/bare]}',
  'consumers:',
  '  - username: alice',
  '  - username: bob',
  '  - username: anonymous',
  '    plugins: [{name: rate-limiting, config: {day: 2, limit_by: consumer}}]',
  'plugins:',
  '  - {name: rate-limiting, config: {day: 4, limit_by: consumer}}',
);

interface Who {
  consumer?: string;
  credential?: string;
}

let snap: Snapshot;
let server: http.Server;
let handle: (req: IncomingMessage, res: ServerResponse) => void;

t.before(async () => {
  await roomInWindow('day', 60_000);
  snap = snapshotOf(config);
  server = http.createServer((req, res) => handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
});
t.teardown(() => new Promise<void>((r) => server.close(() => r())));

function contextFor(req: IncomingMessage, res: ServerResponse, routeName: string, who: Who): RequestContext {
  const route = snap.entities.routes.find((r) => r.name === routeName)!;
  const runtime = snap.routes.get(route.id)!;
  const url = req.url!;
  const q = url.indexOf('?');
  const match = { route, service: runtime.service, strippedPrefix: '', upstreamPath: '/' };
  const ctx = new RequestContext(req, res, snap, match, runtime, 'req-1', q === -1 ? url : url.slice(0, q), null, Date.now());
  if (who.consumer !== undefined) {
    ctx.consumer = snap.consumersByUsername.get(who.consumer)!;
    ctx.anonymous = who.consumer === 'anonymous';
  }
  if (who.credential !== undefined) ctx.credential = { id: who.credential, consumerId: ctx.consumer?.id ?? '', identifier: who.credential };
  return ctx;
}

/** One real request; `onServer` gets the context the gateway would build for it. */
async function send<T>(path: string, routeName: string, who: Who, onServer: (ctx: RequestContext) => T, headers: Record<string, string> = {}) {
  let result!: T;
  handle = (req, res) => {
    const ctx = contextFor(req, res, routeName, who);
    result = onServer(ctx);
    if (!ctx.responded) res.writeHead(200, ctx.responseHeaders ?? []).end('passed'); // as the forwarder writes them
  };
  const reply = await request((server.address() as AddressInfo).port, path, { headers });
  return { result, reply };
}

/** Runs the rate-limiting config that applies to this route and consumer, as the pipeline picks it. */
function limit(ctx: RequestContext): void {
  const chain = (ctx.consumer !== undefined && ctx.runtime.consumerChains?.get(ctx.consumer.id)) || ctx.runtime.chain;
  const entry = chain.find((e) => e.def.name === 'rate-limiting')!;
  entry.def.access!(ctx, entry.conf);
}

t.test('identifier for every limit_by, and the fallback to the client IP', async (t) => {
  const id = (path: string, route: string, who: Who, by: Parameters<typeof identify>[1], headers?: Record<string, string>) =>
    send(path, route, who, (ctx) => identify(ctx, by), headers).then((r) => r.result);
  const alice = snap.consumersByUsername.get('alice')!.id;
  const service = snap.entities.services[0].id;
  const consumer = { limitBy: 'consumer' as const, headerName: undefined, path: undefined };
  t.equal(await id('/bare', 'bare', { consumer: 'alice', credential: 'cred-1' }, consumer), alice, 'consumer: the consumer id');
  t.equal(await id('/bare', 'bare', { credential: 'cred-1' }, consumer), 'cred-1', 'consumer: else the credential id');
  t.equal(await id('/bare', 'bare', {}, consumer), '127.0.0.1', 'consumer: else the client IP');
  t.equal(
    await id('/bare', 'bare', { consumer: 'anonymous' }, consumer),
    snap.consumersByUsername.get('anonymous')!.id,
    'the anonymous consumer is one consumer',
  );
  const credential = { limitBy: 'credential' as const, headerName: undefined, path: undefined };
  t.equal(await id('/bare', 'bare', { consumer: 'alice', credential: 'cred-1' }, credential), 'cred-1', 'credential: the credential id');
  t.equal(await id('/bare', 'bare', { consumer: 'alice' }, credential), '127.0.0.1', 'credential: else the client IP');
  const ip = { limitBy: 'ip' as const, headerName: undefined, path: undefined };
  t.equal(await id('/bare', 'bare', { consumer: 'alice' }, ip, { 'X-Forwarded-For': '203.0.113.9' }), '127.0.0.1', 'ip: the connecting address, whatever X-Forwarded-For says');
  const svc = { limitBy: 'service' as const, headerName: undefined, path: undefined };
  t.equal(await id('/svc', 'in-svc', {}, svc), service, 'service: the matched service id');
  t.equal(await id('/bare', 'bare', {}, svc), '127.0.0.1', 'service: a route without one falls back to the IP');
  const header = { limitBy: 'header' as const, headerName: 'x-tenant', path: undefined };
  t.equal(await id('/bare', 'bare', {}, header, { 'X-Tenant': 'acme' }), 'acme', 'header: its value');
  t.equal(await id('/bare', 'bare', {}, header), '127.0.0.1', 'header: absent → the IP');
  const path = { limitBy: 'path' as const, headerName: undefined, path: '/bare/reports' };
  t.equal(await id('/bare/reports', 'bare', {}, path), '/bare/reports', 'path: the configured path');
  t.equal(await id('/bare/x/../reports', 'bare', {}, path), '/bare/reports', 'path: compared once normalized');
  t.equal(await id('/bare/other', 'bare', {}, path), '127.0.0.1', 'path: any other path → the IP');
});

t.test('a consumer-scoped config gives the anonymous consumer its own, lower limit', async (t) => {
  const statuses = async (who: Who, n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await send('/bare', 'bare', who, limit)).reply.status);
    return out;
  };
  t.same(await statuses({ consumer: 'anonymous' }, 3), [200, 200, 429], 'anonymous: 2 a day');
  t.same(await statuses({ consumer: 'alice' }, 5), [200, 200, 200, 200, 429], 'alice: the global 4 a day');
  t.same(await statuses({ consumer: 'bob' }, 1), [200], 'bob has his own counter');
  const last = await send('/bare', 'bare', { consumer: 'anonymous' }, limit);
  t.equal(last.reply.headers['x-ratelimit-limit-day'], '2');
  t.same(JSON.parse(last.reply.body), { message: 'API rate limit exceeded', request_id: 'req-1' });
});

t.test("counters are keyed by the config's scope, as Kong keys them", async (t) => {
  // Both the global and the route-scoped config count 127.0.0.1 here, but only the global one is keyed
  // like the consumer-scoped anonymous config (no route, no service): those two share counters.
  const own = async () => (await send('/own', 'own', {}, limit)).reply;
  t.same([(await own()).status, (await own()).status, (await own()).status], [200, 200, 429], 'the route config counts on its own');
  // A credential whose id is the anonymous consumer's: contrived, but it makes the global config count under
  // the same identifier as the anonymous config did (2 so far).
  const anonymousId = snap.consumersByUsername.get('anonymous')!.id;
  const viaGlobal = await send('/bare', 'bare', { credential: anonymousId }, limit);
  t.equal(viaGlobal.reply.status, 200);
  t.equal(viaGlobal.reply.headers['x-ratelimit-remaining-day'], '1', "the global config (4 a day) sees the anonymous consumer's 2");
});

t.test('a refusal answers in the format the client accepts', async (t) => {
  const r: Reply = (await send('/bare', 'bare', { consumer: 'anonymous' }, limit, { Accept: 'text/plain' })).reply;
  t.equal(r.status, 429);
  t.match(r.headers['content-type'], /^text\/plain/);
  t.match(r.body, /^API rate limit exceeded\n/);
});
