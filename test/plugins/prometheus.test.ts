import t from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { runCli, startGateway, tempFile, type RunningGateway } from '../helpers/cli';
import { errorsOf } from '../helpers/config';
import { waitFor } from '../helpers/wait';
import { checkConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';

// Cases after Kong's spec/03-plugins/26-prometheus/ (02-access_spec.lua, 01-api_spec.lua) and exporter.lua.
const ACCESS = 'spec/03-plugins/26-prometheus/02-access_spec.lua';
const ALL = { status_code_metrics: true, latency_metrics: true, bandwidth_metrics: true };

let upstream: Upstream;
t.before(async () => {
  upstream = await startUpstream();
});
t.teardown(() => upstream.close());

async function metricsOf(gw: RunningGateway): Promise<string> {
  const r = await request(gw.adminPort!, '/metrics');
  if (r.status !== 200) throw new Error(`GET /metrics: ${r.status}`);
  return r.body;
}

/** The metrics text once it has `line` (the observer records a request when its response has closed). */
const metricsWith = (gw: RunningGateway, line: string) => waitFor(line, async () => {
  const text = await metricsOf(gw);
  return text.includes(line) ? text : undefined;
});

/** Sample lines of one metric family (buckets, sums and counts included). */
const samplesOf = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name}_`));

t.test(`${ACCESS}: per-consumer metrics — a global plugin, key-auth on the route`, async (t) => {
  const gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      services: [{ name: 'mock-service', url: `http://127.0.0.1:${upstream.port}`, routes: [{ name: 'http-route', paths: ['/'], plugins: [{ name: 'key-auth' }] }] }],
      plugins: [{ name: 'prometheus', config: { per_consumer: true, ...ALL } }],
      consumers: [{ username: 'alice', keyauth_credentials: [{ key: 'alice-key-123456' }] }],
    }),
  );
  t.teardown(() => gw.stop());

  t.equal((await request(gw.proxyPort, '/status/200', { headers: { apikey: 'alice-key-123456' } })).status, 200);
  await metricsWith(gw, 'kong_http_requests_total{service="mock-service",route="http-route",code="200",source="service",consumer="alice"} 1');
  t.pass('increments the count for proxied requests, with the consumer');

  t.equal((await request(gw.proxyPort, '/status/200')).status, 401);
  const text = await metricsWith(gw, 'kong_http_requests_total{service="mock-service",route="http-route",code="401",source="kong",consumer=""} 1');
  t.pass('behave correctly if consumer is not found: an empty consumer label, source kong');
  t.ok(text.includes('kong_bandwidth_bytes{service="mock-service",route="http-route",direction="ingress",consumer="alice"}'), 'bandwidth per consumer');
  t.ok(text.includes('kong_kong_latency_ms_count{service="mock-service",route="http-route"} 2'), 'latency of both');
});

t.test(`${ACCESS}: granular metrics switch — each flag turns on its series only; route- and consumer-scoped instances`, async (t) => {
  const route = (name: string, plugins: object[] = []) => ({ name, paths: [`/${name}`], plugins });
  const prom = (config: object) => ({ name: 'prometheus', config });
  const gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      services: [
        {
          name: 'svc',
          url: `http://127.0.0.1:${upstream.port}`,
          routes: [
            route('status', [prom({ status_code_metrics: true })]),
            route('latency', [prom({ latency_metrics: true })]),
            route('bandwidth', [prom({ bandwidth_metrics: true })]),
            route('nothing', [prom({})]),
            route('unmeasured'),
            route('keyed', [{ name: 'key-auth' }]),
          ],
        },
      ],
      consumers: [
        { username: 'measured', keyauth_credentials: [{ key: 'measured-key-1234' }], plugins: [prom({ status_code_metrics: true, per_consumer: true })] },
        { username: 'plain', keyauth_credentials: [{ key: 'plain-key-123456' }] },
      ],
    }),
  );
  t.teardown(() => gw.stop());

  for (const path of ['/status', '/latency', '/bandwidth', '/nothing', '/unmeasured']) t.equal((await request(gw.proxyPort, path)).status, 200, path);
  t.equal((await request(gw.proxyPort, '/keyed', { headers: { apikey: 'measured-key-1234' } })).status, 200);
  t.equal((await request(gw.proxyPort, '/keyed', { headers: { apikey: 'plain-key-123456' } })).status, 200);
  t.equal((await request(gw.proxyPort, '/keyed')).status, 401);
  t.equal((await request(gw.proxyPort, '/no-route')).status, 404);

  const text = await metricsWith(gw, 'kong_http_requests_total{service="svc",route="keyed",code="200",source="service",consumer="measured"} 1');
  t.same(samplesOf(text, 'kong_http_requests_total'), [
    'kong_http_requests_total{service="svc",route="status",code="200",source="service",consumer=""} 1',
    'kong_http_requests_total{service="svc",route="keyed",code="200",source="service",consumer="measured"} 1',
  ], 'status_code_metrics: only where the chain held an instance that turns it on (not the 401 before the consumer was known, not the 404)');
  const latencyRoutes = new Set(samplesOf(text, 'kong_kong_latency_ms').map((l) => /route="([^"]+)"/.exec(l)![1]));
  t.same([...latencyRoutes], ['latency'], 'latency_metrics: kong_kong_latency_ms only for its route');
  t.same(new Set(samplesOf(text, 'kong_request_latency_ms').map((l) => /route="([^"]+)"/.exec(l)![1])), new Set(['latency']));
  t.same(new Set(samplesOf(text, 'kong_upstream_latency_ms').map((l) => /route="([^"]+)"/.exec(l)![1])), new Set(['latency']));
  t.same(samplesOf(text, 'kong_bandwidth_bytes').map((l) => l.replace(/ \d+$/, '')), [
    'kong_bandwidth_bytes{service="svc",route="bandwidth",direction="ingress",consumer=""}',
    'kong_bandwidth_bytes{service="svc",route="bandwidth",direction="egress",consumer=""}',
  ], 'bandwidth_metrics: only its route; per_consumer off: an empty consumer label');
  t.match(text, /^kong_node_info\{/m, 'node series stay');
});

t.test('a file without the plugin keeps every series, for every route (the gateway default)', async (t) => {
  const gw = await startGateway(
    JSON.stringify({ _format_version: '3.0', services: [{ name: 'svc', url: `http://127.0.0.1:${upstream.port}`, routes: [{ name: 'r', paths: ['/'] }] }] }),
  );
  t.teardown(() => gw.stop());
  t.equal((await request(gw.proxyPort, '/')).status, 200);
  const text = await metricsWith(gw, 'kong_http_requests_total{service="svc",route="r",code="200",source="service",consumer=""} 1');
  t.ok(samplesOf(text, 'kong_kong_latency_ms').length > 0 && samplesOf(text, 'kong_bandwidth_bytes').length === 2);
});

t.test('spec/03-plugins/26-prometheus/01-api_spec.lua: the schema — defaults, unknown fields, flags kept for Kong files', async (t) => {
  const file = (config: object) => JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'prometheus', config }] });
  t.same(errorsOf(file({})), []);
  t.match(errorsOf(file({ per_consumer: 'yes' })).join('\n'), /config\.per_consumer/);
  t.match(errorsOf(file({ nope: true })).join('\n'), /config.*nope/);
  const warnings = checkConfigText(file({ ai_metrics: true, upstream_health_metrics: true, wasm_metrics: true }), 'kong.yml').warnings.map(formatIssue).join('\n');
  t.match(warnings, /config\.ai_metrics: ignored: there is no AI proxy/);
  t.notMatch(warnings, /config\.upstream_health_metrics/);
  t.match(warnings, /config\.wasm_metrics: ignored/);
  t.equal(checkConfigText(file(ALL), 'kong.yml').warnings.length, 0);
});

t.test('gateway explain lists the plugin, which only records the request', async (t) => {
  const file = tempFile('kong.yml', JSON.stringify({
    _format_version: '3.0',
    services: [{ name: 'svc', url: 'http://127.0.0.1:9', routes: [{ name: 'r', paths: ['/'], plugins: [{ name: 'prometheus', config: ALL }] }] }],
  }));
  const r = runCli(['explain', '-c', file, 'http://h/x']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /1\.\s+prometheus\s+route\s+records the request/);
});
