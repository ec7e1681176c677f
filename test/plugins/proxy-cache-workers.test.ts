// `--workers 2`: each worker has its own cache; the primary's Admin API purges and reads them all
// (spec/03-plugins/31-proxy-cache/04-invalidations_spec.lua, with workers in place of Kong nodes).
import t from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';

const SPEC = 'spec/03-plugins/31-proxy-cache/04-invalidations_spec.lua';
const WORKERS = 2;

let upstream: Upstream;
let gw: RunningGateway;

t.before(async () => {
  upstream = await startUpstream();
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: up',
      `    url: http://127.0.0.1:${upstream.port}`,
      '    routes:',
      '      - {name: r1, paths: [/r1], plugins: [{name: proxy-cache, config: {strategy: memory}}]}',
      '      - {name: r2, paths: [/r2], plugins: [{name: proxy-cache, config: {strategy: memory}}]}',
    ),
    { args: ['--workers', String(WORKERS), '--access-log', 'off'] },
  );
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

const admin = (path: string, method = 'GET') => request(gw.adminPort!, path, { method });
const pluginOf = async (route: string) => (await admin(`/routes/${route}/plugins`)).json().data[0].id as string;

/**
 * Asks `path` on new connections (node:cluster hands them to the workers in turn) until every worker has missed
 * once, i.e. holds the entry; the answers' statuses and the key.
 */
async function primeEveryWorker(path: string): Promise<{ statuses: string[]; key: string }> {
  const statuses: string[] = [];
  let key = '';
  for (let i = 0; i < 40 && statuses.filter((s) => s === 'Miss').length < WORKERS; i++) {
    const r = await request(gw.proxyPort, path);
    statuses.push(r.headers['x-cache-status'] as string);
    key = r.headers['x-cache-key'] as string;
  }
  return { statuses, key };
}

t.test(`${SPEC}: a purge reaches every worker's cache`, async (t) => {
  const plugin = await pluginOf('r1');
  const primed = await primeEveryWorker('/r1/get');
  t.equal(primed.statuses.filter((s) => s === 'Miss').length, WORKERS, 'each worker has its own cache: one miss each');
  t.equal((await admin(`/proxy-cache/${plugin}/caches/${primed.key}`)).status, 200, "the primary reads the workers' caches");
  t.equal((await admin(`/proxy-cache/${plugin}/caches/${primed.key}`, 'DELETE')).status, 204);
  t.equal((await admin(`/proxy-cache/${plugin}/caches/${primed.key}`)).status, 404, 'gone from every worker');
  t.equal((await admin(`/proxy-cache/${primed.key}`, 'DELETE')).status, 404);

  const again = await primeEveryWorker('/r1/get');
  t.equal(again.statuses.filter((s) => s === 'Miss').length, WORKERS, 'every worker misses again');
  t.equal((await admin(`/proxy-cache/${again.key}`, 'DELETE')).status, 204, 'the second endpoint');
  t.equal((await admin(`/proxy-cache/${again.key}`)).status, 404);
});

t.test(`${SPEC}: does not affect entries of other plugin instances; global purges reach them`, async (t) => {
  const r2 = await primeEveryWorker('/r2/get');
  const one = await primeEveryWorker('/r1/get');
  t.equal((await admin(`/proxy-cache/${one.key}`, 'DELETE')).status, 204);
  t.equal((await admin(`/proxy-cache/${await pluginOf('r2')}/caches/${r2.key}`)).status, 200);
  t.equal((await admin('/proxy-cache', 'DELETE')).status, 204);
  t.equal((await admin(`/proxy-cache/${r2.key}`)).status, 404);
  const after = await primeEveryWorker('/r2/get');
  t.equal(after.statuses.filter((s) => s === 'Miss').length, WORKERS, 'every worker misses again');
});
