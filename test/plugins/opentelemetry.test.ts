import t from 'tap';
import { randomBytes } from 'node:crypto';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { errorsOf } from '../helpers/config';
import { deadPort } from '../helpers/raw';
import { checkConfigText } from '../../src/config/load';
import { waitFor } from '../helpers/wait';
import { decodeExport, type DecodedExport } from '../helpers/otlp';

// Cases after Kong's spec/03-plugins/37-opentelemetry/ (01-otlp_spec.lua, 03-propagation_spec.lua,
// 04-exporter_spec.lua, 02-schema_spec.lua), with a real OTLP/HTTP receiver on loopback that decodes the
// protobuf it gets with the OpenTelemetry project's generated classes (test/helpers/otlp.ts).
const EXPORTER = 'spec/03-plugins/37-opentelemetry/04-exporter_spec.lua';
const PROPAGATION = 'spec/03-plugins/37-opentelemetry/03-propagation_spec.lua';

// --- The gateway, an upstream and the receiver.
let received: DecodedExport[] = [];
let logged: Array<{ request: { headers: Record<string, string> }; trace_id?: Record<string, string> }> = [];
let receiver: Upstream;
let upstream: Upstream;
let gw: RunningGateway;

const hexId = (bytes: number) => randomBytes(bytes).toString('hex');

t.before(async () => {
  receiver = await startUpstream((req, res, body) => {
    if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/x-protobuf') received.push(...decodeExport(body, req.headers));
    if (req.url === '/log') logged.push(JSON.parse(body.toString('utf8')));
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
  upstream = await startUpstream();
  const otel = (config: object = {}) => ({
    name: 'opentelemetry',
    config: { traces_endpoint: `http://127.0.0.1:${receiver.port}/v1/traces`, sampling_rate: 1, queue: { max_batch_size: 200, max_coalescing_delay: 0.01 }, ...config },
  });
  gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      services: [
        {
          name: 'svc',
          url: `http://127.0.0.1:${upstream.port}`,
          routes: [
            {
              name: 'traced',
              paths: ['/traced'],
              plugins: [
                otel({ headers: { 'X-Access-Token': 'token-123' }, resource_attributes: { 'service.name': 'edge', 'os.version': 'debian' }, http_response_header_for_traceid: 'X-Trace-Id' }),
                { name: 'key-auth' },
                { name: 'request-transformer', config: { add: { headers: ['x-added:1'] } } },
              ],
            },
            { name: 'unsampled', paths: ['/unsampled'], plugins: [otel({ sampling_rate: 0 })] },
            { name: 'b3', paths: ['/b3'], plugins: [otel({ header_type: 'b3' })] },
            { name: 'ignore', paths: ['/ignore'], plugins: [otel({ header_type: 'ignore' })] },
            { name: 'preserve', paths: ['/preserve'], plugins: [otel({}), { name: 'http-log', config: { http_endpoint: `http://127.0.0.1:${receiver.port}/log`, queue: { max_coalescing_delay: 0.01 } } }] },
            { name: 'at-stop', paths: ['/at-stop'], plugins: [otel({ queue: { max_batch_size: 100, max_coalescing_delay: 3600 } })] },
            {
              name: 'down',
              paths: ['/down'],
              plugins: [otel({ traces_endpoint: `http://127.0.0.1:${await deadPort()}/v1/traces`, connect_timeout: 100, queue: { max_retry_time: 0 } })],
            },
          ],
        },
      ],
      consumers: [{ username: 'alice', keyauth_credentials: [{ key: 'alice-key-123456' }] }],
    }),
  );
});
t.teardown(async () => {
  if (gw.proc.exitCode === null) await gw.stop();
  await upstream.close();
  await receiver.close();
});

const spansOf = (traceId: string) => received.flatMap((e) => e.spans.filter((s) => s.traceId === traceId).map((s) => ({ ...s, from: e })));
const spansFor = (traceId: string, count: number) => waitFor(`${count} spans of ${traceId}`, () => (spansOf(traceId).length >= count ? spansOf(traceId) : undefined));

t.test(`${EXPORTER}: spans of a request — request, router, each plugin's access, balancer; resource, scope, headers`, async (t) => {
  const traceId = hexId(16);
  const parentId = hexId(8);
  const res = await request(gw.proxyPort, '/traced?q=1', { headers: { traceparent: `00-${traceId}-${parentId}-01`, apikey: 'alice-key-123456' } });
  t.equal(res.status, 200);
  t.equal(res.headers['x-trace-id'], traceId, 'http_response_header_for_traceid');
  const seen = JSON.parse(res.body).headers;
  const spans = await spansFor(traceId, 6);
  const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
  t.same(spans.map((s) => s.name).sort(), [
    'kong',
    'kong.access.plugin.key-auth',
    'kong.access.plugin.opentelemetry',
    'kong.access.plugin.request-transformer',
    'kong.balancer',
    'kong.router',
  ]);
  const root = byName.kong;
  t.equal(root.kind, 2, 'SERVER');
  t.equal(root.parentSpanId, parentId, "the caller's span is the root's parent");
  for (const s of spans.filter((s) => s.name !== 'kong')) t.equal(s.parentSpanId, root.spanId, `${s.name}: child of the root`);
  t.equal(byName['kong.balancer'].kind, 3, 'CLIENT');
  t.equal(byName['kong.router'].kind, 1, 'INTERNAL');
  t.match(seen.traceparent, new RegExp(`^00-${traceId}-${byName['kong.balancer'].spanId}-01$`), 'upstream sees the balancer span as its parent');
  t.match(root.attributes, {
    'http.method': 'GET',
    'http.url': `http://127.0.0.1/traced?q=1`,
    'http.host': '127.0.0.1',
    'http.scheme': 'http',
    'http.flavor': '1.1',
    'http.status_code': { int: 200 },
    'http.route': '/traced',
    'kong.request.id': res.headers['x-kong-request-id'] ?? /.+/,
  });
  t.match(byName['kong.balancer'].attributes, { try_count: 1, 'net.peer.ip': '127.0.0.1', 'net.peer.port': upstream.port });
  for (const s of spans) t.ok(s.end >= s.start, `${s.name}: ends after it starts`);
  t.ok(byName['kong.access.plugin.key-auth'].end <= byName['kong.access.plugin.request-transformer'].start, 'plugins in their order');
  const from = spans[0].from;
  t.match(from.resource, { 'service.name': 'edge', 'os.version': 'debian', 'service.version': /.+/, 'service.instance.id': /.+/ }, 'resource_attributes override the defaults');
  t.same(from.scope, { name: 'kong-internal', version: '0.1.0' });
  t.equal(from.headers['x-access-token'], 'token-123', 'configured headers on the export request');
});

t.test(`${EXPORTER}: a request refused by a plugin has no balancer span; sampling_rate 0 sends nothing`, async (t) => {
  const traceId = hexId(16);
  const refused = await request(gw.proxyPort, '/traced', { headers: { traceparent: `00-${traceId}-${hexId(8)}-01` } });
  t.equal(refused.status, 401);
  // key-auth (1250) runs before opentelemetry (14): the trace is still read and sent, from the log phase.
  const spans = await spansFor(traceId, 3);
  t.same(spans.map((s) => s.name).sort(), ['kong', 'kong.access.plugin.key-auth', 'kong.router']);
  t.same(spans.find((s) => s.name === 'kong')!.attributes['http.status_code'], { int: 401 });

  const unsampled = await request(gw.proxyPort, '/unsampled');
  const seen = JSON.parse(unsampled.body).headers;
  t.match(seen.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, 'propagated, not sampled');
  // The parent's decision wins over the rate: a sampled caller through the same instance is exported.
  const sampledId = hexId(16);
  await request(gw.proxyPort, '/unsampled', { headers: { traceparent: `00-${sampledId}-${hexId(8)}-01` } });
  await spansFor(sampledId, 4);
  t.equal(spansOf(seen.traceparent.split('-')[1]).length, 0);
});

t.test(`${PROPAGATION}: b3 in, b3 and traceparent out; ignore starts a new trace`, async (t) => {
  const traceId = hexId(16);
  const spanId = hexId(8);
  const seen = JSON.parse((await request(gw.proxyPort, '/b3', { headers: { 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-sampled': '1' } })).body).headers;
  t.equal(seen['x-b3-traceid'], traceId, 'preserve: b3 as it came');
  const spans = await spansFor(traceId, 3);
  const root = spans.find((s) => s.name === 'kong')!;
  t.equal(root.parentSpanId, spanId, "b3's span is the root's parent");
  t.equal(seen['x-b3-spanid'], spans.find((s) => s.name === 'kong.balancer')!.spanId);
  t.equal(seen['x-b3-parentspanid'], root.spanId);

  const ignored = JSON.parse((await request(gw.proxyPort, '/ignore', { headers: { traceparent: `00-${traceId}-${spanId}-01` } })).body).headers;
  t.match(ignored.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  t.notMatch(ignored.traceparent, traceId, 'the incoming context is not read');
});

const dec = (hex: string) => BigInt(`0x${hex}`).toString(10);
/** A trace the client starts in each format, and what upstream sees given the balancer span and the request span. */
const FORMATS: Array<{ format: string; headers: (tr: string, sp: string) => Record<string, string>; upstream: (tr: string, balancer: string, root: string) => Record<string, string> }> = [
  { format: 'jaeger', headers: (tr, sp) => ({ 'uber-trace-id': `${tr}:${sp}:0:1` }), upstream: (tr, b, r) => ({ 'uber-trace-id': `${tr}:${b}:${r}:01` }) },
  { format: 'ot', headers: (tr, sp) => ({ 'ot-tracer-traceid': tr, 'ot-tracer-spanid': sp, 'ot-tracer-sampled': '1' }), upstream: (tr, b) => ({ 'ot-tracer-traceid': tr, 'ot-tracer-spanid': b, 'ot-tracer-sampled': '1' }) },
  {
    format: 'aws',
    headers: (tr, sp) => ({ 'x-amzn-trace-id': `Root=1-${tr.slice(0, 8)}-${tr.slice(8)};Parent=${sp};Sampled=1` }),
    upstream: (tr, b) => ({ 'x-amzn-trace-id': `Root=1-${tr.slice(0, 8)}-${tr.slice(8)};Parent=${b};Sampled=1` }),
  },
  { format: 'gcp', headers: (tr, sp) => ({ 'x-cloud-trace-context': `${tr}/${dec(sp)};o=1` }), upstream: (tr, b) => ({ 'x-cloud-trace-context': `${tr}/${dec(b)};o=1` }) },
  { format: 'w3c', headers: (tr, sp) => ({ traceparent: `00-${tr}-${sp}-01` }), upstream: (tr, b) => ({ traceparent: `00-${tr}-${b}-01` }) },
  { format: 'b3', headers: (tr, sp) => ({ b3: `${tr}-${sp}-1` }), upstream: (tr, b, r) => ({ b3: `${tr}-${b}-1-${r}` }) },
];

for (const f of FORMATS) {
  t.test(`${PROPAGATION}: a trace the client started in ${f.format} is the spans' trace at the receiver and upstream's, in ${f.format}; the entry's trace_id names it`, async (t) => {
    const traceId = hexId(16);
    const spanId = hexId(8);
    const res = await request(gw.proxyPort, '/preserve', { headers: f.headers(traceId, spanId) });
    const seen = JSON.parse(res.body).headers;
    const spans = await spansFor(traceId, 3);
    const root = spans.find((s) => s.name === 'kong')!;
    const balancer = spans.find((s) => s.name === 'kong.balancer')!;
    t.equal(root.parentSpanId, spanId, "the caller's span is the request span's parent");
    t.equal(balancer.parentSpanId, root.spanId);
    t.equal(spans.find((s) => s.name === 'kong.router')!.parentSpanId, root.spanId);
    t.match(root.attributes, { 'http.method': 'GET', 'http.route': '/preserve', 'http.status_code': { int: 200 } });
    t.match(seen, f.upstream(traceId, balancer.spanId, root.spanId), 'upstream sees the balancer span, in the format it came in');
    const entry = await waitFor('the log entry', () => logged.find((e) => JSON.stringify(e.trace_id ?? {}).includes(traceId)));
    t.same(entry.trace_id, { [f.format]: traceId }, 'kong/pdk/log.lua: trace_id, by format written');
  });
}

t.test('spec/03-plugins/37-opentelemetry/02-schema_spec.lua: validation', async (t) => {
  const file = (config: object) => JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'opentelemetry', config }] });
  t.same(errorsOf(file({ traces_endpoint: 'http://otel:4318/v1/traces' })), []);
  t.same(errorsOf(file({ endpoint: 'http://otel:4318/v1/traces' })), [], 'the deprecated endpoint');
  t.match(errorsOf(file({})).join('\n'), /at least one of these fields must be non-empty: traces_endpoint, logs_endpoint/);
  t.match(errorsOf(file({ traces_endpoint: 'http://otel:4318', resource_attributes: { foo: '' } })).join('\n'), /resource_attributes\.foo/);
  t.match(errorsOf(file({ traces_endpoint: 'http://otel:4318', sampling_rate: 1.5 })).join('\n'), /config\.sampling_rate/);
  t.match(errorsOf(file({ traces_endpoint: 'http://otel:4318', header_type: 'datadog' })).join('\n'), /config\.header_type: 'datadog' propagation is not supported/);
  t.match(errorsOf(file({ traces_endpoint: 'http://otel:4318', headers: { 'bad header': 'x' } })).join('\n'), /config\.headers/);
});

t.test("kong/plugins/opentelemetry/schema.lua: the queue's own default, max_batch_size 200, when no queue is given", async (t) => {
  const queueOf = (config: object) =>
    checkConfigText(JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'opentelemetry', config: { traces_endpoint: 'http://otel:4318', ...config } }] }), 'kong.yml')
      .entities.plugins[0].config.queue;
  t.match(queueOf({}), { max_batch_size: 200, max_coalescing_delay: 1, max_entries: 10000, max_retry_time: 60, concurrency_limit: 1 });
  t.match(queueOf({ queue: { max_entries: 5 } }), { max_batch_size: 1, max_entries: 5 }, "a queue given: kong/tools/queue_schema.lua's field defaults");
  t.match(errorsOf(JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'opentelemetry', config: { traces_endpoint: 'http://otel:4318', queue: { max_batch_size: 0 } } }] })).join('\n'), /config\.queue\.max_batch_size/);
});

t.test(`${EXPORTER}: a collector that is down: the request is served, the spans are counted as dropped`, async (t) => {
  t.equal((await request(gw.proxyPort, '/down')).status, 200);
  const dropped = /gateway_log_entries_dropped_total\{plugin="opentelemetry",reason="retries exhausted"\} [1-9]/;
  await waitFor('the spans counted as dropped', async () => (dropped.test((await request(gw.adminPort!, '/metrics')).body) ? true : undefined));
});

t.test('spans queued at SIGTERM are sent within the shutdown grace, as log entries are', async (t) => {
  const traceId = hexId(16);
  await request(gw.proxyPort, '/at-stop', { headers: { traceparent: `00-${traceId}-${hexId(8)}-01` } });
  t.equal(spansOf(traceId).length, 0, 'held by the coalescing delay');
  t.equal(await gw.stop(), 0);
  t.equal(new Set(spansOf(traceId).map((s) => s.from)).size, 1, 'sent in one export');
  t.ok(spansOf(traceId).length >= 3, 'root, router and balancer spans at least');
});
