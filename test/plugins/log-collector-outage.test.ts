import t from 'tap';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { deadPort } from '../helpers/raw';
import { waitFor } from '../helpers/wait';
import { decodeExport } from '../helpers/otlp';

// A collector that is down, then slow (5 s per request), then back, behind http-log and opentelemetry
// (kong/tools/queue.lua: retries with backoff for max_retry_time; a full queue drops its oldest entries). What is
// asserted: every proxied request completes meanwhile, what waits is bounded by queue.max_entries (the rest is
// counted in gateway_log_entries_dropped_total), and what was kept is delivered once the collector is back.
// Proxy latency under such a collector is measured by the benchmark (bench/run.js --cases log,log-down,log-slow).

const SLOW_MS = 5000;
let mode: 'slow' | 'fast' = 'slow';
const entries: Array<{ request: { uri: string } }> = [];
const traces: string[] = [];
/** Deliveries the collector is sitting on. */
let holding = 0;
let collector: http.Server | undefined;
let collectorPort: number;
let upstream: Upstream;
let gw: RunningGateway;

function startCollector(): Promise<void> {
  collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const accept = () => {
        holding--;
        // http-log sends one entry as an object, a batch of more as an array (Kong's http-log handler).
        if (req.url === '/log') entries.push(...([] as typeof entries).concat(JSON.parse(body.toString('utf8'))));
        else for (const e of decodeExport(body, req.headers)) for (const s of e.spans) traces.push(s.traceId);
        res.end();
      };
      holding++;
      if (mode === 'slow') setTimeout(accept, SLOW_MS);
      else accept();
    });
  });
  return new Promise((resolve) => collector!.listen(collectorPort, '127.0.0.1', resolve));
}

async function dropped(plugin: string): Promise<number> {
  const body = (await request(gw.adminPort!, '/metrics')).body;
  const m = new RegExp(`gateway_log_entries_dropped_total\\{plugin="${plugin}",reason="queue full"\\} (\\d+)`).exec(body);
  return m === null ? 0 : Number(m[1]);
}

t.before(async () => {
  collectorPort = await deadPort();
  upstream = await startUpstream();
  const retrying = { initial_retry_delay: 0.05, max_retry_delay: 0.2, max_retry_time: 120 };
  gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      services: [
        {
          name: 'svc',
          url: `http://127.0.0.1:${upstream.port}`,
          routes: [
            {
              name: 'logged',
              paths: ['/logged'],
              plugins: [{ name: 'http-log', config: { http_endpoint: `http://127.0.0.1:${collectorPort}/log`, timeout: 10000, queue: { max_batch_size: 1, max_entries: 5, ...retrying } } }],
            },
            {
              name: 'traced',
              paths: ['/traced'],
              plugins: [
                {
                  name: 'opentelemetry',
                  config: { traces_endpoint: `http://127.0.0.1:${collectorPort}/v1/traces`, sampling_rate: 1, read_timeout: 10000, queue: { max_batch_size: 4, max_entries: 8, ...retrying } },
                },
              ],
            },
          ],
        },
      ],
    }),
  );
});
t.teardown(async () => {
  if (gw.proc.exitCode === null) await gw.stop();
  await upstream.close();
  collector?.closeAllConnections();
  collector?.close();
});

const traceIds: string[] = [];
async function traced(): Promise<number> {
  const traceId = randomBytes(16).toString('hex');
  traceIds.push(traceId);
  return (await request(gw.proxyPort, '/traced', { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } })).status;
}

t.test('kong/tools/queue.lua: a collector down, then slow, then back — requests complete, the queue stays bounded, what it kept is delivered', async (t) => {
  // Down: nothing listens. Each plugin keeps one batch in flight (retried) and max_entries waiting.
  for (let i = 0; i < 10; i++) {
    t.equal((await request(gw.proxyPort, `/logged/${i}`)).status, 200, `down: request ${i} completes`);
    t.equal(await traced(), 200);
  }
  t.equal(await dropped('http-log'), 10 - 1 - 5, 'http-log: one entry in flight, five waiting, the rest dropped');
  t.equal(await dropped('opentelemetry'), 40 - 4 - 8, "opentelemetry (4 spans a request: kong, router, its own access, balancer): one request's spans in flight, two requests' waiting, the rest dropped");

  // Slow: the collector answers each request after 5 s; the proxy keeps answering meanwhile.
  await startCollector();
  await waitFor('a delivery held by the slow collector', () => (holding > 0 ? true : undefined));
  for (let i = 10; i < 13; i++) {
    t.equal((await request(gw.proxyPort, `/logged/${i}`)).status, 200, `slow: request ${i} completes while the collector holds a delivery`);
    t.equal(await traced(), 200);
  }
  t.ok(holding > 0, 'the collector was still holding a delivery');
  t.equal(await dropped('http-log'), 13 - 1 - 5, 'the newest entries push out the oldest waiting ones');
  t.equal(await dropped('opentelemetry'), 52 - 4 - 8);

  // Back: what waited is delivered, once each.
  await waitFor('the slow deliveries answered', () => (entries.length >= 1 && traces.length >= 4 ? true : undefined), 15000);
  mode = 'fast';
  const uris = await waitFor('the entries kept', () => (entries.length >= 6 ? entries.map((e) => e.request.uri) : undefined), 15000);
  t.same(uris.sort(), ['/logged/0', '/logged/10', '/logged/11', '/logged/12', '/logged/8', '/logged/9'], 'the first (in flight) and the newest five');
  const spans = await waitFor('the spans kept', () => (traces.length >= 12 ? traces : undefined), 15000);
  t.same([...new Set(spans)].sort(), [traceIds[0], traceIds[11], traceIds[12]].sort(), 'the first trace (in flight) and the newest two');
  t.equal(spans.length, 12, 'each span once');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(entries.length, 6, 'nothing delivered twice');
  t.notOk(gw.logs().includes('retries exhausted'), 'no batch gave up: max_retry_time not reached');
});
