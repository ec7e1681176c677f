// One upstream's balancer state on its own (src/balancer/balancer.ts): the health counting of Kong's healthchecker
// (kong/runloop/balancer/healthcheckers.lua, lua-resty-healthcheck), the threshold, and a reload keeping state.
import t from 'tap';
import { Balancer } from '../../src/balancer/balancer';
import { compileUpstreams } from '../../src/balancer/spec';
import { snapshotOf } from '../helpers/config';

function specOf(upstream: object, targets: Array<[string, number]> = [['a:1', 100], ['b:1', 100], ['c:1', 100]]) {
  const s = snapshotOf(
    JSON.stringify({ _format_version: '3.0', upstreams: [{ name: 'u', ...upstream, targets: targets.map(([target, weight]) => ({ target, weight })) }] }),
  );
  return compileUpstreams(s.entities).get('u')!;
}

t.test('passive: failures reach the threshold, a success in between clears them', async (t) => {
  const b = new Balancer(specOf({ healthchecks: { passive: { unhealthy: { tcp_failures: 2, http_failures: 3 }, healthy: { successes: 2 } } } }));
  b.report(0, 'tcp_failure', 'passive', 'x');
  b.responded(0, 200, 1);
  b.report(0, 'tcp_failure', 'passive', 'x');
  t.equal(b.targets[0].healthy, true, 'a success reset the tcp failure count');
  b.report(0, 'tcp_failure', 'passive', 'x');
  t.equal(b.targets[0].healthy, false, 'two in a row: unhealthy');
  t.equal(b.targets[0].transitions.unhealthy, 1);
  b.responded(0, 200, 1);
  t.equal(b.targets[0].healthy, false);
  b.responded(0, 204, 1);
  t.equal(b.targets[0].healthy, true, 'passive.healthy.successes: 2 bring it back');
  for (let i = 0; i < 3; i++) b.responded(1, 503, 1);
  t.equal(b.targets[1].healthy, false, '503 is in passive.unhealthy.http_statuses');
  for (let i = 0; i < 10; i++) b.responded(2, 404, 1);
  t.equal(b.targets[2].healthy, true, '404 is neither healthy nor unhealthy for passive checks');
});

t.test('thresholds of 0 turn a check off; unhealthy targets are never picked', async (t) => {
  const b = new Balancer(specOf({}));
  for (let i = 0; i < 50; i++) b.report(0, 'timeout', 'passive', 'x');
  t.equal(b.targets[0].healthy, true, 'no passive threshold: never marked down');
  b.setHealth(0, false, 'test');
  const picked = new Set<number>();
  for (let i = 0; i < 30; i++) {
    const p = b.pick(undefined, undefined);
    picked.add(p);
    b.release(p);
  }
  t.same([...picked].sort(), [1, 2]);
  b.setHealth(1, false, 'test');
  b.setHealth(2, false, 'test');
  t.equal(b.pick(undefined, undefined), -1, 'all down: no peer');
});

t.test('healthchecks.threshold: below that share of healthy weight, the upstream is down', async (t) => {
  const b = new Balancer(specOf({ healthchecks: { threshold: 50 } }));
  b.setHealth(0, false, 'test');
  t.not(b.pick(undefined, undefined), -1, '2/3 healthy');
  b.setHealth(1, false, 'test');
  t.equal(b.pick(undefined, undefined), -1, '1/3 healthy < 50%');
});

t.test('excluded targets are skipped; weight 0 never picked', async (t) => {
  const b = new Balancer(specOf({}, [['a:1', 100], ['b:1', 0], ['c:1', 100]]));
  for (let i = 0; i < 10; i++) t.equal(b.pick(undefined, new Set([0])), 2);
});

t.test('a new config keeps the state of targets whose address stays', async (t) => {
  const b = new Balancer(specOf({}));
  b.setHealth(1, false, 'test');
  b.pick(undefined, undefined);
  const requestsOfA = b.targets[0].requests;
  b.update(specOf({}, [['d:1', 100], ['b:1', 50], ['a:1', 100]]));
  t.same(b.targets.map((x) => [x.spec.address, x.healthy]), [['d:1', true], ['b:1', false], ['a:1', true]]);
  t.equal(b.targets[2].requests, requestsOfA, 'counters kept');
  t.equal(b.targets[1].spec.weight, 50, 'the new weight taken');
});

t.test('active tcp probes: a closed port is a tcp failure, a listening one a success', async (t) => {
  const net = await import('node:net');
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  const { Prober } = await import('../../src/balancer/probes');
  const b = new Balancer(
    specOf({ healthchecks: { active: { type: 'tcp', timeout: 1, healthy: { successes: 1 }, unhealthy: { tcp_failures: 1 } } } }, [[`127.0.0.1:${port}`, 100]]),
  );
  const prober = new Prober(b);
  await prober.round(true);
  t.equal(b.targets[0].healthy, false, 'nothing listening: unhealthy after one tcp failure');
  const back = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => back.listen(port, '127.0.0.1', r));
  t.teardown(() => back.close());
  await prober.round(false);
  t.equal(b.targets[0].healthy, true, 'listening again: healthy after one success');
});

t.test('a request still on the previous config never takes the balancer back, and only gets targets it knows', async (t) => {
  const { balancerFor } = await import('../../src/balancer/registry');
  const { leaseTarget } = await import('../../src/balancer');
  const config = (targets: string[]) =>
    snapshotOf(
      JSON.stringify({
        _format_version: '3.0',
        upstreams: [{ name: 'moving', targets: targets.map((target) => ({ target })) }],
        services: [{ name: 's', host: 'moving', routes: [{ name: 'r', paths: ['/'] }] }],
      }),
    );
  const old = [...config(['a:1', 'b:1']).routes.values()][0];
  const next = [...config(['b:1', 'c:1']).routes.values()][0];
  const b = balancerFor(next.balanced!.spec);
  t.equal(balancerFor(old.balanced!.spec), b);
  t.equal(b.spec, next.balanced!.spec, 'the older spec did not replace the newer');
  const ctxOf = (runtime: unknown) => ({ runtime }) as unknown as Parameters<typeof leaseTarget>[0];
  for (let i = 0; i < 6; i++) {
    const lease = leaseTarget(ctxOf(old))!;
    t.equal(lease.target.host, 'b', 'only b is in both configs');
    lease.release();
  }
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const lease = leaseTarget(ctxOf(next))!;
    seen.add(lease.target.host);
    lease.release();
  }
  t.same([...seen].sort(), ['b', 'c']);
});
