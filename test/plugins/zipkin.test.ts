import t from 'tap';
import { randomBytes } from 'node:crypto';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { deadPort } from '../helpers/raw';
import { errorsOf } from '../helpers/config';
import { waitFor } from '../helpers/wait';
import { checkConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';

// Cases after Kong's spec/03-plugins/34-zipkin/ (zipkin_spec.lua, zipkin_queue_spec.lua, schema_spec.lua,
// zipkin_no_endpoint_spec.lua), with a real Zipkin v2 collector on loopback.
const SPEC = 'spec/03-plugins/34-zipkin/zipkin_spec.lua';

interface Span {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind: string;
  timestamp: number;
  duration: number;
  localEndpoint: object;
  remoteEndpoint: any;
  tags?: Record<string, string>;
  annotations?: Array<{ value: string; timestamp: number }>;
}

/** What the collector answers: ok, a 500, or nothing at all. */
let collectorMode: 'ok' | 'fail' | 'hang' = 'ok';
let batches: Span[][] = [];
let collector: Upstream;
let upstream: Upstream;
let gw: RunningGateway;
let deadCollectorPort: number;

const hexId = (bytes: number) => randomBytes(bytes).toString('hex');

t.before(async () => {
  collector = await startUpstream((req, res, body) => {
    if (collectorMode === 'hang') return; // never answers: the gateway's read timeout gives up
    if (collectorMode === 'fail') {
      res.writeHead(500).end();
      return;
    }
    if (req.headers['content-type'] === 'application/json') batches.push(JSON.parse(body.toString('utf8')));
    res.writeHead(202).end();
  });
  upstream = await startUpstream();
  deadCollectorPort = await deadPort();
  const endpoint = `http://127.0.0.1:${collector.port}/api/v2/spans`;
  const zipkin = (config: object) => ({ name: 'zipkin', config: { http_endpoint: endpoint, sample_ratio: 1, ...config } });
  const route = (name: string, plugins: object[]) => ({ name, hosts: [`${name}.test`], plugins });
  gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      services: [
        {
          name: 'mock-service',
          url: `http://127.0.0.1:${upstream.port}`,
          routes: [
            route('http-route', [zipkin({ static_tags: [{ name: 'static', value: 'ok' }], default_header_type: 'b3-single' })]),
            route('ignore', [zipkin({ header_type: 'ignore', default_header_type: 'w3c' })]),
            route('w3c', [zipkin({ header_type: 'w3c', default_header_type: 'b3-single' })]),
            route('preserve-default', [zipkin({})]),
            route('no-preserve', [zipkin({ propagation: { extract: ['b3'], inject: ['w3c'], default_format: 'w3c' } })]),
            route('clear', [zipkin({ propagation: { extract: ['w3c'], inject: ['preserve'], clear: ['X-Other-Trace'], default_format: 'b3' } })]),
            route('unsampled', [zipkin({ sample_ratio: 0 })]),
            route('traceid-header', [zipkin({ http_response_header_for_traceid: 'X-Trace-Id', traceid_byte_count: 8 })]),
            route('method-path', [zipkin({ http_span_name: 'method_path', phase_duration_flavor: 'tags' })]),
            route('batched', [zipkin({ queue: { max_batch_size: 3, max_coalescing_delay: 10 } })]),
            route('retried', [zipkin({ queue: { initial_retry_delay: 0.05, max_retry_delay: 0.1 } })]),
            route('down', [{ name: 'zipkin', config: { http_endpoint: `http://127.0.0.1:${deadCollectorPort}`, sample_ratio: 1, connect_timeout: 100, queue: { max_retry_time: 0 } } }]),
            route('at-stop', [zipkin({ queue: { max_batch_size: 100, max_coalescing_delay: 3600 } })]),
            route('tiny-queue', [zipkin({ queue: { max_bytes: 10 } })]),
            route('no-endpoint', [{ name: 'zipkin', config: { sample_ratio: 1 } }]),
            route('every-format', [zipkin({ propagation: { extract: ['gcp', 'aws', 'ot', 'jaeger'], inject: ['jaeger', 'ot', 'aws', 'gcp', 'w3c'] } })]),
          ],
        },
      ],
    }),
  );
});
t.teardown(async () => {
  if (gw.proc.exitCode === null) await gw.stop();
  await upstream.close();
  await collector.close();
});

const spansOf = (traceId: string) => batches.flat().filter((s) => s.traceId === traceId);
const spanNamed = (spans: Span[], name: string) => spans.find((s) => s.name === name);
/** The request's three spans once they have all arrived. */
const threeSpans = (traceId: string) => waitFor(`3 spans of ${traceId}`, () => (spansOf(traceId).length >= 3 ? spansOf(traceId) : undefined));

async function get(host: string, headers: Record<string, string> = {}, path = '/') {
  const res = await request(gw.proxyPort, path, { headers: { host, ...headers } });
  return { res, seen: JSON.parse(res.body).headers as Record<string, string> };
}

t.test(`${SPEC}: generates spans, tags and annotations for regular requests`, async (t) => {
  const traceId = hexId(16);
  const { res } = await get('http-route.test', { 'x-b3-sampled': '1', 'x-b3-traceid': traceId, 'zipkin-tags': 'foo=bar; baz=qux; broken' });
  t.equal(res.status, 200);
  const spans = await threeSpans(traceId);
  const requestSpan = spanNamed(spans, 'GET')!;
  const proxySpan = spanNamed(spans, 'GET (proxy)')!;
  const balancerSpan = spanNamed(spans, 'GET (balancer try 1)')!;
  t.ok(requestSpan && proxySpan && balancerSpan, 'request, proxy and balancer spans');

  t.equal(requestSpan.kind, 'SERVER');
  t.same(requestSpan.localEndpoint, { serviceName: 'kong' });
  t.match(requestSpan.tags!['kong.node.id'], /^[0-9a-f-]+$/);
  const { 'kong.node.id': _node, ...tags } = requestSpan.tags!;
  t.same(tags, {
    'http.method': 'GET',
    'http.path': '/',
    'http.status_code': '200',
    'http.protocol': 'HTTP/1.1',
    'http.host': 'http-route.test',
    lc: 'kong',
    static: 'ok',
    foo: 'bar',
    baz: 'qux',
  }, 'request tags: the static tag and the valid tags of the Zipkin-Tags header');
  t.equal(requestSpan.remoteEndpoint.ipv4, '127.0.0.1');
  t.type(requestSpan.remoteEndpoint.port, 'number');
  t.same(requestSpan.annotations!.map((a) => a.value), ['krs', 'krf']);
  t.ok(requestSpan.duration >= proxySpan.duration);

  t.equal(proxySpan.kind, 'CLIENT');
  t.equal(proxySpan.parentId, requestSpan.id);
  t.equal(proxySpan.tags!['kong.route_name'], 'http-route');
  t.equal(proxySpan.tags!['kong.service_name'], 'mock-service');
  t.equal(proxySpan.tags!['peer.hostname'], '127.0.0.1');
  t.same(proxySpan.remoteEndpoint, { serviceName: 'mock-service', port: upstream.port, ipv4: '127.0.0.1' });
  const ann = Object.fromEntries(proxySpan.annotations!.map((a) => [a.value, a.timestamp]));
  t.same(Object.keys(ann).sort(), ['kaf', 'kas', 'kbf', 'kbs', 'khf', 'khs']);
  t.ok(ann.kas <= ann.kaf && ann.khs <= ann.khf && ann.kbs <= ann.kbf && ann.khs <= ann.kbs, 'annotations in order');

  t.equal(balancerSpan.parentId, requestSpan.id);
  t.same(balancerSpan.tags, {
    'kong.balancer.try': '1',
    'kong.route': proxySpan.tags!['kong.route'],
    'kong.route_name': 'http-route',
    'kong.service': proxySpan.tags!['kong.service'],
    'kong.service_name': 'mock-service',
  });
  t.same(balancerSpan.localEndpoint, { serviceName: 'kong' });
});

t.test(`${SPEC}: b3 single header propagation works on regular calls`, async (t) => {
  const traceId = hexId(16);
  const spanId = hexId(8);
  const parentId = hexId(8);
  const { seen } = await get('http-route.test', { b3: `${traceId}-${spanId}-1-${parentId}` });
  t.match(seen.b3, new RegExp(`^${traceId}-[0-9a-f]{16}-1-${spanId}$`), 'upstream gets the proxy span, child of the client-shared span');
  const spans = await threeSpans(traceId);
  const requestSpan = spanNamed(spans, 'GET')!;
  t.equal(requestSpan.id, spanId, 'b3 shares the span id between client and server');
  t.equal(requestSpan.parentId, parentId);
  const proxySpan = spanNamed(spans, 'GET (proxy)')!;
  t.not(proxySpan.id, spanId);
  t.equal(proxySpan.parentId, spanId);
  t.equal(seen.b3.split('-')[1], proxySpan.id);
});

t.test(`${SPEC}: b3 single header propagation works without parent_id`, async (t) => {
  const traceId = hexId(16);
  const spanId = hexId(8);
  const { seen } = await get('http-route.test', { b3: `${traceId}-${spanId}-1` });
  t.match(seen.b3, new RegExp(`^${traceId}-[0-9a-f]{16}-1-${spanId}$`));
  const requestSpan = spanNamed(await threeSpans(traceId), 'GET')!;
  t.equal(requestSpan.id, spanId);
  t.notOk('parentId' in requestSpan);
});

t.test(`${SPEC}: b3 multi headers in, multi headers out (preserve)`, async (t) => {
  const traceId = hexId(8);
  const spanId = hexId(8);
  const { seen } = await get('preserve-default.test', { 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-sampled': '1' });
  t.equal(seen['x-b3-traceid'], traceId, 'an 8-byte trace id stays 8 bytes');
  t.equal(seen['x-b3-parentspanid'], spanId);
  t.match(seen['x-b3-spanid'], /^[0-9a-f]{16}$/);
  t.equal(seen['x-b3-sampled'], '1');
  t.equal(spanNamed(await threeSpans(traceId), 'GET (proxy)')!.id, seen['x-b3-spanid']);
});

t.test(`${SPEC}: w3c traceparent header propagation works on regular calls`, async (t) => {
  const traceId = hexId(16);
  const parentId = hexId(8);
  const { seen } = await get('http-route.test', { traceparent: `00-${traceId}-${parentId}-01` });
  t.match(seen.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  const spans = await threeSpans(traceId);
  t.equal(spanNamed(spans, 'GET')!.parentId, parentId, "the caller's span is the parent of ours");
  t.equal(spanNamed(spans, 'GET (proxy)')!.id, seen.traceparent.split('-')[2]);
});

t.test(`${SPEC}: header type with 'preserve' config and no inbound headers uses default_header_type`, async (t) => {
  const { seen } = await get('http-route.test');
  t.match(seen.b3, /^[0-9a-f]{32}-[0-9a-f]{16}-1-[0-9a-f]{16}$/, 'default_header_type b3-single');
  const { seen: plain } = await get('preserve-default.test');
  t.match(plain['x-b3-traceid'], /^[0-9a-f]{32}$/, 'the default: b3');
});

t.test(`${SPEC}: propagation configuration`, async (t) => {
  const traceId = hexId(16);
  const ignored = (await get('ignore.test', { 'x-b3-sampled': '1', 'x-b3-traceid': traceId })).seen;
  t.match(ignored.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'ignores incoming headers and uses default type');
  t.notMatch(ignored.traceparent, traceId);

  const spanId = hexId(8);
  const parentId = hexId(8);
  const w3c = (await get('w3c.test', { b3: `${traceId}-${spanId}-1-${parentId}` })).seen;
  t.match(w3c.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`), 'propagates w3c tracing headers + incoming format (preserve + w3c)');
  t.match(w3c.b3, new RegExp(`^${traceId}-[0-9a-f]{16}-1-[0-9a-f]{16}$`));
  t.not(w3c.b3, `${traceId}-${spanId}-1-${parentId}`, 'incoming b3 is replaced');

  const other = (await get('no-preserve.test', { 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-sampled': '1' })).seen;
  t.match(other.traceparent, new RegExp(`^00-${traceId}-`), 'does not preserve incoming header type if preserve is not specified');
  t.equal(other['x-b3-spanid'], spanId, 'the incoming b3 headers pass unchanged');

  const cleared = (await get('clear.test', { traceparent: `00-${traceId}-${parentId}-01`, 'x-other-trace': 'x' })).seen;
  t.notOk('x-other-trace' in cleared, 'clears the configured headers');
  t.match(cleared.traceparent, new RegExp(`^00-${traceId}-`));
});

const PROPAGATION_DIR = 'kong/observability/tracing/propagation/{extractors,injectors}';
const dec = (hex: string) => BigInt(`0x${hex}`).toString(10);

/** A trace started by the client in each format Kong reads (besides datadog and instana). */
const FORMATS: Array<{
  format: string;
  headers: (traceId: string, spanId: string, parentId: string) => Record<string, string>;
  /** The span the request span is a child of: the caller's (b3 and jaeger share it instead). */
  shared: boolean;
  /** What upstream sees, given the proxy span and its parent (the request span). */
  upstream: (traceId: string, proxySpan: string, requestSpan: string) => Record<string, string>;
}> = [
  {
    format: 'jaeger',
    headers: (tr, sp, pa) => ({ 'uber-trace-id': `${tr}:${sp}:${pa}:1` }),
    shared: true,
    upstream: (tr, px, rq) => ({ 'uber-trace-id': `${tr}:${px}:${rq}:01` }),
  },
  {
    format: 'ot',
    headers: (tr, sp) => ({ 'ot-tracer-traceid': tr, 'ot-tracer-spanid': sp, 'ot-tracer-sampled': '1' }),
    shared: false,
    upstream: (tr, px) => ({ 'ot-tracer-traceid': tr, 'ot-tracer-spanid': px, 'ot-tracer-sampled': '1' }),
  },
  {
    format: 'aws',
    headers: (tr, sp) => ({ 'x-amzn-trace-id': `Root=1-${tr.slice(0, 8)}-${tr.slice(8)};Parent=${sp};Sampled=1;Lineage=a:1` }),
    shared: false,
    upstream: (tr, px) => ({ 'x-amzn-trace-id': `Root=1-${tr.slice(0, 8)}-${tr.slice(8)};Parent=${px};Sampled=1` }),
  },
  {
    format: 'gcp',
    headers: (tr, sp) => ({ 'x-cloud-trace-context': `${tr}/${dec(sp)};o=1` }),
    shared: false,
    upstream: (tr, px) => ({ 'x-cloud-trace-context': `${tr}/${dec(px)};o=1` }),
  },
];

for (const f of FORMATS) {
  t.test(`${PROPAGATION_DIR}/${f.format}.lua: a trace the client started in ${f.format} goes on in the spans and upstream, in ${f.format} (preserve)`, async (t) => {
    const traceId = hexId(16);
    const spanId = hexId(8);
    const parentId = hexId(8);
    const { seen } = await get('preserve-default.test', f.headers(traceId, spanId, parentId));
    const spans = await threeSpans(traceId);
    const requestSpan = spanNamed(spans, 'GET')!;
    const proxySpan = spanNamed(spans, 'GET (proxy)')!;
    if (f.shared) {
      t.equal(requestSpan.id, spanId, "the caller's span is shared");
      t.equal(requestSpan.parentId, parentId);
    } else {
      t.equal(requestSpan.parentId, spanId, "the caller's span is the parent of ours");
    }
    t.equal(proxySpan.parentId, requestSpan.id);
    t.match(seen, f.upstream(traceId, proxySpan.id, requestSpan.id), 'upstream sees the proxy span, in the format it came in');
    t.notOk('x-b3-traceid' in seen, 'and no other format');
  });
}

t.test(`${PROPAGATION_DIR}: extract and inject in jaeger, ot, aws and gcp at once`, async (t) => {
  const traceId = hexId(16);
  const spanId = hexId(8);
  const { seen } = await get('every-format.test', { 'x-amzn-trace-id': `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${spanId};Sampled=1` });
  const spans = await threeSpans(traceId);
  const requestSpan = spanNamed(spans, 'GET')!;
  const proxy = spanNamed(spans, 'GET (proxy)')!.id;
  t.equal(requestSpan.parentId, spanId);
  t.match(seen, Object.assign({}, ...FORMATS.map((f) => f.upstream(traceId, proxy, requestSpan.id))));
  t.equal(seen.traceparent, `00-${traceId}-${proxy}-01`);

  // An 8-byte trace id stays 8 bytes where the format allows it (jaeger, ot) and is padded where not (aws, gcp, w3c).
  const short = hexId(8);
  const { seen: padded } = await get('every-format.test', { 'uber-trace-id': `${short}:${spanId}:0:1` });
  t.match(padded['uber-trace-id'], new RegExp(`^${short}:[0-9a-f]{16}:${spanId}:01$`), 'jaeger shares the caller span; parent 0 means none');
  t.equal(padded['ot-tracer-traceid'], short);
  t.match(padded['x-amzn-trace-id'], new RegExp(`^Root=1-00000000-00000000${short}`));
  t.match(padded['x-cloud-trace-context'], new RegExp(`^0{16}${short}/\\d+;o=1$`));

  // Invalid contexts are ignored: a new trace starts.
  for (const headers of [{ 'uber-trace-id': `${traceId}:0:0:1` }, { 'x-amzn-trace-id': `Root=2-${traceId.slice(0, 8)}-${traceId.slice(8)}` }, { 'x-cloud-trace-context': `${traceId}/x;o=1` }, { 'ot-tracer-traceid': 'xyz' }]) {
    const { seen: fresh } = await get('every-format.test', headers);
    t.notMatch(fresh['uber-trace-id'], traceId, `${JSON.stringify(headers)}: a new trace`);
  }
});

t.test('spec/03-plugins/34-zipkin/zipkin_spec.lua: sample_ratio 0 sends nothing and still propagates, unsampled', async (t) => {
  const { seen } = await get('unsampled.test');
  t.equal(seen['x-b3-sampled'], '0');
  // A request the client asked to sample, through the same instance after it: sent, while the first never is.
  const traceId = hexId(16);
  t.equal((await get('unsampled.test', { 'x-b3-traceid': traceId, 'x-b3-sampled': '1' })).seen['x-b3-sampled'], '1');
  await threeSpans(traceId);
  t.equal(spansOf(seen['x-b3-traceid']).length, 0);
});

t.test(`${SPEC}: http_response_header_for_traceid; traceid_byte_count 8`, async (t) => {
  const { res, seen } = await get('traceid-header.test');
  t.match(res.headers['x-trace-id'], /^[0-9a-f]{16}$/);
  t.equal(seen['x-b3-traceid'], res.headers['x-trace-id']);
});

t.test(`${SPEC}: http_span_name = 'method_path'; phase_duration_flavor = 'tags'`, async (t) => {
  const traceId = hexId(16);
  await get('method-path.test', { 'x-b3-traceid': traceId, 'x-b3-sampled': '1' }, '/some/path');
  const spans = await threeSpans(traceId);
  const requestSpan = spanNamed(spans, 'GET /some/path')!;
  const proxySpan = spanNamed(spans, 'GET /some/path (proxy)')!;
  t.ok(requestSpan && proxySpan);
  t.notOk(requestSpan.annotations);
  t.ok(Number(requestSpan.tags!['kong.rewrite.duration_ms']) >= 0);
  for (const tag of ['kong.access.duration_ms', 'kong.body_filter.duration_ms']) t.ok(Number(proxySpan.tags![tag]) >= 0, tag);
});

t.test('spec/03-plugins/34-zipkin/zipkin_queue_spec.lua: spans go in batches of max_batch_size', async (t) => {
  const traceId = hexId(16);
  await get('batched.test', { 'x-b3-traceid': traceId, 'x-b3-sampled': '1' });
  const batch = await waitFor('the batch', () => batches.find((b) => b.some((s) => s.traceId === traceId)));
  t.equal(batch.length, 3, "one request's three spans in one POST");
});

t.test('spec/03-plugins/34-zipkin/zipkin_spec.lua: upstream zipkin failures — refused, failing, hanging collectors', async (t) => {
  t.equal((await get('down.test')).res.status, 200, 'connection refused: the request is served');
  const dropped = /gateway_log_entries_dropped_total\{plugin="zipkin",reason="retries exhausted"\} 3/;
  await waitFor('the 3 spans counted as dropped', async () => (dropped.test((await request(gw.adminPort!, '/metrics')).body) ? true : undefined));
  t.match(gw.logs(), /queued entries dropped.*"plugin":"zipkin"/, 'and logged');
  collectorMode = 'fail';
  const traceId = hexId(16);
  t.equal((await get('retried.test', { 'x-b3-traceid': traceId, 'x-b3-sampled': '1' })).res.status, 200, 'a collector answering 500: served');
  await waitFor('a failed attempt', () => (collector.seen.length > 0 && spansOf(traceId).length === 0 ? true : undefined));
  collectorMode = 'hang';
  t.equal((await get('http-route.test')).res.status, 200, 'a collector that never answers: served');
  collectorMode = 'ok';
  const spans = await threeSpans(traceId);
  t.equal(spans.length, 3, 'retried until the collector accepts: delivered once');
});

t.test('queue.max_bytes bounds the JSON spans waiting: a span larger than it is dropped and counted, never sent', async (t) => {
  const traceId = hexId(16);
  t.equal((await get('tiny-queue.test', { 'x-b3-traceid': traceId, 'x-b3-sampled': '1' })).res.status, 200);
  const dropped = /gateway_log_entries_dropped_total\{plugin="zipkin",reason="queue full"\} 3/;
  await waitFor('the 3 spans counted as dropped', async () => (dropped.test((await request(gw.adminPort!, '/metrics')).body) ? true : undefined));
  t.equal(spansOf(traceId).length, 0);
});

t.test('spec/03-plugins/34-zipkin/zipkin_no_endpoint_spec.lua: without http_endpoint, headers are still propagated', async (t) => {
  const traceId = hexId(16);
  const { seen } = await get('no-endpoint.test', { 'x-b3-traceid': traceId, 'x-b3-sampled': '1' });
  t.equal(seen['x-b3-traceid'], traceId);
});

t.test('spec/03-plugins/34-zipkin/schema_spec.lua: validation', async (t) => {
  const file = (config: object) => JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'zipkin', config: { http_endpoint: 'http://zipkin.local:9411/api/v2/spans', ...config } }] });
  t.same(errorsOf(file({})), []);
  t.match(errorsOf(file({ static_tags: [{ name: 'http.method', value: 'x' }] })).join('\n'), /static_tags\[0\]\.name: 'http\.method' is a tag the plugin sets itself/, 'rejects repeated tags');
  t.match(errorsOf(file({ static_tags: [{ name: 'foo', value: 'bar' }, { name: 'foo', value: 'baz' }] })).join('\n'), /repeated tags are not allowed: foo/);
  t.match(errorsOf(file({ sample_ratio: 2 })).join('\n'), /config\.sample_ratio/);
  t.match(errorsOf(file({ traceid_byte_count: 12 })).join('\n'), /config\.traceid_byte_count/);
  t.match(errorsOf(file({ header_type: 'instana' })).join('\n'), /config\.header_type: 'instana' propagation is not supported/);
  t.match(errorsOf(file({ default_header_type: 'datadog' })).join('\n'), /config\.default_header_type: 'datadog' propagation is not supported/);
  t.match(errorsOf(file({ propagation: { inject: ['datadog'] } })).join('\n'), /config\.propagation\.inject\[0\]: 'datadog' propagation is not supported/);
  t.match(errorsOf(file({ header_type: 'zipkin' })).join('\n'), /config\.header_type/);
  t.match(errorsOf(file({ http_endpoint: 'zipkin.local' })).join('\n'), /config\.http_endpoint/);
  const warnings = checkConfigText(file({ propagation: { extract: ['b3', 'datadog'], inject: ['preserve'] } }), 'kong.yml').warnings.map(formatIssue).join('\n');
  t.match(warnings, /config\.propagation\.extract\[1\]: ignored: 'datadog' headers are not read here/);
});

t.test('spans queued at SIGTERM are sent within the shutdown grace, as log entries are', async (t) => {
  const traceId = hexId(16);
  await get('at-stop.test', { 'x-b3-traceid': traceId, 'x-b3-sampled': '1' });
  t.equal(spansOf(traceId).length, 0, 'held by the coalescing delay');
  t.equal(await gw.stop(), 0);
  const batch = batches.find((b) => b.some((s) => s.traceId === traceId));
  t.equal(batch?.length, 3, "the request's three spans, in one POST");
});
