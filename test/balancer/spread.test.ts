// 3,000 requests through the real gateway to three real upstream servers, per algorithm: how they spread
// (kong/runloop/balancer/*.lua; spec/02-integration/05-proxy/10-balancer/).
import t from 'tap';
import type { Upstream } from '../helpers/http';
import { startGateway } from '../helpers/cli';
import { config, countBy, fire, startServers } from '../helpers/balancer';

let servers: Upstream[];
t.before(async () => {
  servers = await startServers();
});
t.teardown(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

t.test('round_robin.lua: 3,000 requests spread within 1% of the weights 3:2:1', async (t) => {
  const gw = await startGateway(config(servers, {}, [300, 200, 100]));
  t.teardown(() => gw.stop());
  const got = countBy(await fire(gw.proxyPort, 3000, 20));
  t.same(Object.keys(got).sort(), ['a', 'b', 'c'], 'only the three targets answered');
  for (const [name, want] of [['a', 1500], ['b', 1000], ['c', 500]] as const) {
    t.ok(Math.abs(got[name] - want) <= 30, `${name}: ${got[name]} of ${want}`);
  }
});

t.test('round_robin.lua: a target of weight 0 gets nothing', async (t) => {
  const gw = await startGateway(config(servers, {}, [100, 0, 100]));
  t.teardown(() => gw.stop());
  const got = countBy(await fire(gw.proxyPort, 300, 10));
  t.same(got, { a: 150, c: 150 });
});

t.test('consistent_hashing.lua: 3,000 requests on 300 header values, each value always on one target', async (t) => {
  const gw = await startGateway(config(servers, { hash_on: 'header', hash_on_header: 'X-User' }));
  t.teardown(() => gw.stop());
  const served = await fire(gw.proxyPort, 3000, 20, (i) => ({ 'X-User': `user-${i % 300}` }));
  const byKey = new Map<number, Set<string>>();
  served.forEach((name, i) => {
    const set = byKey.get(i % 300) ?? new Set();
    set.add(name);
    byKey.set(i % 300, set);
  });
  t.ok([...byKey.values()].every((s) => s.size === 1), 'every key stayed on its target');
  const got = countBy(served);
  t.same(Object.keys(got).sort(), ['a', 'b', 'c']);
  for (const name of ['a', 'b', 'c']) t.ok(got[name] > 600 && got[name] < 1400, `${name}: ${got[name]} (about a third)`);
});

t.test('least_connections.lua: 3,000 requests 30 at a time spread about evenly', async (t) => {
  const slow = await startServers({ a: 5, b: 5, c: 5 });
  t.teardown(() => Promise.all(slow.map((s) => s.close())));
  const gw = await startGateway(config(slow, { algorithm: 'least-connections' }));
  t.teardown(() => gw.stop());
  const got = countBy(await fire(gw.proxyPort, 3000, 30));
  t.same(Object.keys(got).sort(), ['a', 'b', 'c']);
  for (const name of ['a', 'b', 'c']) t.ok(got[name] > 800 && got[name] < 1200, `${name}: ${got[name]}`);
});

t.test('least_connections.lua: the target that holds its requests longest gets fewer', async (t) => {
  const uneven = await startServers({ a: 40, b: 2, c: 2 });
  t.teardown(() => Promise.all(uneven.map((s) => s.close())));
  const gw = await startGateway(config(uneven, { algorithm: 'least-connections' }));
  t.teardown(() => gw.stop());
  const got = countBy(await fire(gw.proxyPort, 3000, 30));
  t.ok(got.a < got.b && got.a < got.c, `slow a gets least: ${JSON.stringify(got)}`);
});

t.test('latency.lua: 3,000 requests, the slow target gets the fewest', async (t) => {
  const uneven = await startServers({ a: 30, b: 1, c: 1 });
  t.teardown(() => Promise.all(uneven.map((s) => s.close())));
  const gw = await startGateway(config(uneven, { algorithm: 'latency' }));
  t.teardown(() => gw.stop());
  const got = countBy(await fire(gw.proxyPort, 3000, 10));
  t.same(Object.keys(got).filter((k) => !['a', 'b', 'c'].includes(k)), [], 'every request answered');
  t.ok((got.a ?? 0) < 300, `slow a: ${got.a ?? 0} of 3000`);
});
