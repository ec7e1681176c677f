// proxy-cache's bound on memory (--mem-cache-size) and its purge endpoints behind an admin token.
import t from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { runCli, startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';

let upstream: Upstream;
let gw: RunningGateway;
const TOKEN = 'purge-secret';

t.before(async () => {
  upstream = await startUpstream((req, res) => {
    const size = Number(new URL(req.url!, 'http://u').searchParams.get('size'));
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`${req.url} `.padEnd(size, 'x'));
  });
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'services:',
      '  - name: up',
      `    url: http://127.0.0.1:${upstream.port}`,
      '    routes: [{name: big, paths: [/big], plugins: [{name: proxy-cache, config: {strategy: memory}}]}]',
    ),
    { args: ['--access-log', 'off', '--mem-cache-size', '64k', '--admin-token', TOKEN] },
  );
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

const cacheStatus = async (path: string) => (await request(gw.proxyPort, path)).headers['x-cache-status'];

t.test('the least recently used entries are evicted once the cache holds --mem-cache-size', async (t) => {
  // About 5.5 KB each: eleven of them fit in 64 KB.
  for (let i = 0; i < 20; i++) t.equal(await cacheStatus(`/big/${i}?size=5000`), 'Miss');
  t.equal(await cacheStatus('/big/19?size=5000'), 'Hit', 'the latest are kept');
  t.equal(await cacheStatus('/big/12?size=5000'), 'Hit');
  t.equal(await cacheStatus('/big/0?size=5000'), 'Miss', 'the oldest went');
});

t.test('a response larger than an eighth of the cache is passed on whole and not stored', async (t) => {
  const first = await request(gw.proxyPort, '/big/large?size=9000');
  t.equal(first.headers['x-cache-status'], 'Miss');
  t.equal(first.body.length, 9000);
  t.equal(await cacheStatus('/big/large?size=9000'), 'Miss');
});

t.test('purges are operations, allowed behind the admin token', async (t) => {
  await request(gw.proxyPort, '/big/purged?size=10');
  t.equal(await cacheStatus('/big/purged?size=10'), 'Hit');
  const refused = await request(gw.adminPort!, '/proxy-cache', { method: 'DELETE' });
  t.equal(refused.status, 401);
  t.equal(await cacheStatus('/big/purged?size=10'), 'Hit', 'nothing purged without the token');
  const done = await request(gw.adminPort!, '/proxy-cache', { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
  t.equal(done.status, 204);
  t.equal(await cacheStatus('/big/purged?size=10'), 'Miss');
});

t.test('--mem-cache-size takes sizes as Kong writes them', async (t) => {
  const r = runCli(['start', '-c', '/nonexistent.yml', '--mem-cache-size', '12q']);
  t.equal(r.status, 1);
  t.match(r.stderr, /--mem-cache-size.*expected a size such as 128m, 512k or 1g/);
});
