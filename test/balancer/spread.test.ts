// 3,000 requests through the real gateway to three real upstream servers, per algorithm: how they spread
// (kong/runloop/balancer/*.lua; spec/02-integration/05-proxy/10-balancer/).
import t from 'tap';
import http from 'node:http';
import { startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';

export interface Fleet {
  servers: Upstream[];
  gw: RunningGateway;
}

/** Sends `n` GETs, `concurrency` at a time on kept-alive connections; returns the X-Served-By of each answer. */
export async function fire(port: number, n: number, concurrency: number, headers: (i: number) => Record<string, string> = () => ({})): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const out: string[] = new Array(n);
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: `/lb/${i}`, agent, headers: headers(i) }, (res) => {
          res.resume();
          res.on('end', () => {
            out[i] = res.statusCode === 200 ? String(res.headers['x-served-by']) : `status ${res.statusCode}`;
            resolve();
          });
        })
        .on('error', reject);
    });
  const worker = async () => {
    for (let i = next++; i < n; i = next++) await one(i);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return out;
}

export function countBy(names: string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of names) c[n] = (c[n] ?? 0) + 1;
  return c;
}

/** Three upstream servers named a, b, c; `delayMs` slows each one's answers. */
export async function startServers(delayMs: Record<string, number> = {}): Promise<Upstream[]> {
  return Promise.all(
    ['a', 'b', 'c'].map((name) =>
      startUpstream((_req, res) => {
        const answer = () => {
          res.writeHead(200, { 'X-Served-By': name, 'Content-Type': 'text/plain' });
          res.end(name);
        };
        const delay = delayMs[name] ?? 0;
        if (delay > 0) setTimeout(answer, delay);
        else answer();
      }),
    ),
  );
}

export function config(servers: Upstream[], upstream: object, weights = [100, 100, 100], service: object = {}): string {
  return JSON.stringify({
    _format_version: '3.0',
    upstreams: [{ name: 'backend', ...upstream, targets: servers.map((s, i) => ({ target: `127.0.0.1:${s.port}`, weight: weights[i] })) }],
    services: [{ name: 'svc', host: 'backend', ...service, routes: [{ name: 'lb', paths: ['/lb'] }] }],
  });
}

if (require.main === module || process.argv[1]?.endsWith('spread.test.ts')) {
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
}
