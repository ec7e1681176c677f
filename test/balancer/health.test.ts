// Health checks, retries across targets and the all-down answer, through the real gateway and real servers
// (kong/runloop/balancer/healthcheckers.lua, init.lua; spec/02-integration/05-proxy/10-balancer/).
import t from 'tap';
import http from 'node:http';
import { request } from '../helpers/http';
import { startGateway } from '../helpers/cli';
import { countBy, fire, namedServer, type NamedServer } from '../helpers/balancer';
import { eventually } from '../helpers/raw';

function file(servers: NamedServer[], upstream: object = {}, extra: object = {}): string {
  return JSON.stringify({
    _format_version: '3.0',
    upstreams: [{ name: 'backend', ...upstream, targets: servers.map((s) => ({ target: `127.0.0.1:${s.port}` })) }],
    services: [{ name: 'svc', host: 'backend', routes: [{ name: 'lb', paths: ['/lb'] }] }],
    ...extra,
  });
}

async function healthOf(adminPort: number): Promise<Record<string, string>> {
  const r = await request(adminPort, '/upstreams/backend/health');
  return Object.fromEntries(r.json().data.map((d: { target: string; health: string }) => [d.target, d.health]));
}

t.test('one target killed mid-traffic: no GET fails; passive checks take it out, active probes bring it back', async (t) => {
  const servers = await Promise.all(['a', 'b', 'c'].map((n) => namedServer(n)));
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  const interval = 0.2;
  const successes = 2;
  const gw = await startGateway(
    file(servers, {
      healthchecks: {
        passive: { unhealthy: { tcp_failures: 2 } },
        active: { http_path: '/health', unhealthy: { interval }, healthy: { successes } },
      },
    }),
  );
  t.teardown(() => gw.stop());
  const b = `127.0.0.1:${servers[1].port}`;
  t.equal((await healthOf(gw.adminPort!))[b], 'HEALTHY');

  const firstWave = await fire(gw.proxyPort, 300, 10);
  t.same(countBy(firstWave), { a: 100, b: 100, c: 100 });
  await servers[1].close();
  const during = await fire(gw.proxyPort, 600, 10);
  t.same(during.filter((x) => x !== 'a' && x !== 'c'), [], 'every request answered, by a or c (refused connections retried on another target)');
  t.equal((await healthOf(gw.adminPort!))[b], 'UNHEALTHY', 'b is down after tcp_failures: 2');
  t.match(gw.logs(), /"msg":"upstream target unhealthy".*"reason":"passive check: 2 tcp failures/);

  const back = await namedServer('b', servers[1].port);
  servers[1] = back;
  const restarted = Date.now();
  t.ok(await eventually(async () => (await healthOf(gw.adminPort!))[b] === 'HEALTHY', 5000, 20), 'active probes bring b back');
  const took = Date.now() - restarted;
  // interval × successes, plus one interval for the round already under way when b came back, plus scheduling
  t.ok(took <= (interval * (successes + 1)) * 1000 + 1000, `healthy again after ${took} ms (interval ${interval}s × ${successes} successes)`);
  const after = countBy(await fire(gw.proxyPort, 300, 10));
  t.same(after, { a: 100, b: 100, c: 100 }, 'b gets its share again');

  const metrics = (await request(gw.adminPort!, '/metrics')).body;
  t.match(metrics, new RegExp(`kong_upstream_target_health\\{upstream="backend",target="${b.replace(/\./g, '\\.')}",address="[^"]+",state="healthy",subsystem="http"\\} 1`));
  t.match(metrics, /gateway_upstream_target_health_transitions_total\{upstream="backend",target="[^"]+",state="unhealthy"\} 1/);
  t.match(metrics, /gateway_upstream_target_requests_total\{upstream="backend",target="[^"]+"\} \d+/);
});

t.test("every target down: Kong's 503 'failure to get a peer from the ring-balancer'; PUT healthy brings them back", async (t) => {
  const servers = await Promise.all(['a', 'b'].map((n) => namedServer(n)));
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  const gw = await startGateway(file(servers));
  t.teardown(() => gw.stop());
  const health = await healthOf(gw.adminPort!);
  t.same(Object.values(health), ['HEALTHCHECKS_OFF', 'HEALTHCHECKS_OFF'], 'no checks configured');
  for (const s of servers) {
    const put = await request(gw.adminPort!, `/upstreams/backend/targets/127.0.0.1:${s.port}/unhealthy`, { method: 'PUT' });
    t.equal(put.status, 204);
  }
  const down = await request(gw.proxyPort, '/lb');
  t.equal(down.status, 503);
  t.match(down.json(), { message: 'failure to get a peer from the ring-balancer', request_id: String });
  const balancer = (await request(gw.adminPort!, '/upstreams/backend/health?balancer_health=1')).json();
  t.match(balancer.data, { health: 'UNHEALTHY', details: { weight: { total: 200, available: 0 } } });
  t.equal((await request(gw.adminPort!, `/upstreams/backend/targets/127.0.0.1:${servers[0].port}/healthy`, { method: 'PUT' })).status, 204);
  t.equal((await request(gw.proxyPort, '/lb')).body, 'a');
  t.equal((await request(gw.adminPort!, '/upstreams/backend/targets/nope:1/healthy', { method: 'PUT' })).status, 404);
  t.equal((await request(gw.adminPort!, '/upstreams/nope/health')).status, 404);
});

t.test('retries: a refused GET goes to the next target; a POST whose body streamed is not replayed', async (t) => {
  const live = await namedServer('live');
  const dead = await namedServer('dead');
  await dead.close();
  t.teardown(() => live.close());
  const gw = await startGateway(file([dead, live]));
  t.teardown(() => gw.stop());
  const gets = countBy(await fire(gw.proxyPort, 20, 1));
  t.same(gets, { live: 20 }, 'every GET retried on the live target');
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await request(gw.proxyPort, '/lb', { method: 'POST', body: 'payload' })).status);
  t.ok(statuses.includes(502), `POSTs sent to the dead target fail: ${statuses}`);
  t.ok(statuses.includes(200), 'the others reach the live one');
});

t.test('passive http_failures: a target answering 500s is taken out after the threshold; its 500s reach the client', async (t) => {
  const ok = await namedServer('ok');
  const failing = http.createServer((_req, res) => {
    res.writeHead(500, { 'X-Served-By': 'failing' });
    res.end();
  });
  await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
  const port = (failing.address() as { port: number }).port;
  t.teardown(async () => {
    await ok.close();
    failing.close();
  });
  const gw = await startGateway(
    JSON.stringify({
      _format_version: '3.0',
      upstreams: [{ name: 'backend', healthchecks: { passive: { unhealthy: { http_failures: 3 } } }, targets: [{ target: `127.0.0.1:${ok.port}` }, { target: `127.0.0.1:${port}` }] }],
      services: [{ name: 'svc', host: 'backend', routes: [{ name: 'lb', paths: ['/lb'] }] }],
    }),
  );
  t.teardown(() => gw.stop());
  const served = await fire(gw.proxyPort, 40, 1);
  t.equal(served.filter((x) => x === 'status 500').length, 3, 'three 500s passed on, then the target is out');
  t.equal((await healthOf(gw.adminPort!))[`127.0.0.1:${port}`], 'UNHEALTHY');
});

t.test('hot reload keeps the health of targets still present; a new target starts healthy', async (t) => {
  const servers = await Promise.all(['a', 'b', 'c'].map((n) => namedServer(n)));
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  const checks = { passive: { unhealthy: { tcp_failures: 5 } } };
  const gw = await startGateway(file(servers.slice(0, 2), { healthchecks: checks }));
  t.teardown(() => gw.stop());
  await request(gw.adminPort!, `/upstreams/backend/targets/127.0.0.1:${servers[0].port}/unhealthy`, { method: 'PUT' });
  const posted = await request(gw.adminPort!, '/config', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: file(servers, { healthchecks: checks }) });
  t.equal(posted.status, 201);
  const health = await healthOf(gw.adminPort!);
  t.same(Object.values(health), ['UNHEALTHY', 'HEALTHY', 'HEALTHY']);
  t.same(countBy(await fire(gw.proxyPort, 100, 5)), { b: 50, c: 50 });
});
