// `gateway start --workers 2` through the real CLI: both workers serve, configs reach both, a dead worker is
// replaced, local rate limits hold exactly across workers, and SIGTERM ends everything.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { runCli, runCliAsync, startGateway, tempFile, type RunningGateway } from '../helpers/cli';
import { createServer, type AddressInfo } from 'node:net';
import { yaml } from '../helpers/config';
import { waitFor, writeByRename } from '../helpers/wait';
import { roomInWindow } from '../helpers/windows';
import { availableParallelism } from 'node:os';
import { workerCount } from '../../src/cli/workers';

let upstream: Upstream;
let gw: RunningGateway;
let accessLog: string;

const config = (hourLimit: number, extraRoute = '') =>
  yaml(
    '_format_version: "3.0"',
    'services:',
    '  - name: api',
    `    url: http://127.0.0.1:${upstream.port}`,
    '    routes:',
    '      - {name: open, paths: [/open]}',
    '      - name: limited',
    '        paths: [/limited]',
    `        plugins: [{name: rate-limiting, config: {hour: ${hourLimit}, limit_by: service}}]`,
    extraRoute,
  );

interface WorkerView {
  id: number;
  pid: number;
  restarts: number;
  configuration_hash?: string;
  total_requests?: number;
}

const admin = (path: string, opts: Parameters<typeof request>[2] = {}) => request(gw.adminPort!, path, opts);
const status = async () => (await admin('/status')).json();
const workers = async (): Promise<WorkerView[]> => (await status()).workers;

/** `n` requests, `parallel` at a time, each on its own connection. */
async function many(path: string, n: number, parallel: number) {
  const replies: Awaited<ReturnType<typeof request>>[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        next++;
        replies.push(await request(gw.proxyPort, path));
      }
    }),
  );
  return replies;
}

t.before(async () => {
  await roomInWindow('hour', 60_000); // the limit's counters must not roll over mid-test
  upstream = await startUpstream();
  accessLog = join(mkdtempSync(join(tmpdir(), 'gateway-workers-')), 'access.log');
  gw = await startGateway(config(30), { args: ['--workers', '2', '--access-log', accessLog] });
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

t.test('two workers share the proxy port; /status lists both and adds up their counters', async (t) => {
  const replies = await many('/open', 20, 4);
  t.ok(replies.every((r) => r.status === 200));
  const s = await status();
  t.equal(s.workers.length, 2);
  t.equal(new Set(s.workers.map((w: WorkerView) => w.pid)).size, 2, 'two processes');
  t.ok(s.workers.every((w: WorkerView) => w.total_requests! > 0), 'both served requests');
  t.equal(s.server.total_requests, s.workers[0].total_requests + s.workers[1].total_requests);
  t.ok(s.workers.every((w: WorkerView) => w.configuration_hash === s.configuration_hash));
  t.match(gw.logs(), /"msg":"gateway listening".*"workers":2/);
});

t.test('a local rate limit holds exactly across the workers', async (t) => {
  const replies = await many('/limited', 75, 10);
  const passed = replies.filter((r) => r.status === 200);
  t.equal(passed.length, 30, 'exactly the limit passes');
  t.equal(replies.filter((r) => r.status === 429).length, 45, 'the rest get Kong 429');
  const remaining = passed.map((r) => Number(r.headers['x-ratelimit-remaining-hour'])).sort((a, b) => a - b);
  t.same(remaining, Array.from({ length: 30 }, (_, i) => i), 'each permit handed out once: Remaining counts 29 down to 0');
  const metrics = (await admin('/metrics')).body;
  t.match(metrics, /gateway_rate_limit_rejections_total\{service="api",route="limited"\} 45/, 'summed over workers');
  t.equal(new Set(metrics.match(/node_id="[^"]+"/g)).size, 1, 'one node_id');
});

t.test('a reload reaches every worker; a bad edit is rejected and both keep serving', async (t) => {
  writeByRename(gw.configFile, config(30, '      - {name: added, paths: [/added]}'));
  const hash = await waitFor('the new config on every worker', async () => {
    const s = await status();
    return s.last_reload?.accepted && s.workers.every((w: WorkerView) => w.configuration_hash === s.configuration_hash) ? s.configuration_hash : undefined;
  });
  const added = await many('/added', 6, 3);
  t.ok(added.every((r) => r.status === 200), 'both workers route the new path');
  t.equal((await many('/limited', 4, 2)).filter((r) => r.status === 200).length, 0, 'counters kept: the plugin did not change');
  t.equal(gw.logs().match(/"msg":"config reloaded"/g)?.length, 1, 'one line per reload, from the primary');

  writeByRename(gw.configFile, 'services: [\n');
  await waitFor('the rejection', async () => ((await status()).last_reload_error ? true : undefined));
  const ws = await workers();
  t.ok(ws.every((w) => w.configuration_hash === hash), 'workers keep the previous config', { ws, hash } as object);
  t.ok((await many('/added', 6, 3)).every((r) => r.status === 200));
});

t.test('POST /config answers once every worker serves the posted config', async (t) => {
  const posted = config(30, '      - {name: posted, paths: [/posted]}');
  const res = await admin('/config', { method: 'POST', headers: { 'Content-Type': 'text/yaml' }, body: posted });
  t.equal(res.status, 201);
  const s = await status();
  t.ok(s.workers.every((w: WorkerView) => w.configuration_hash === s.configuration_hash));
  t.ok((await many('/posted', 6, 3)).every((r) => r.status === 200));
});

t.test('a killed worker is replaced and gets the live config', async (t) => {
  const before = await workers();
  process.kill(before[0].pid, 'SIGKILL');
  const hash = (await status()).configuration_hash;
  const after = await waitFor('a new worker', async () => {
    const ws = await workers();
    return ws[0].pid !== before[0].pid && ws[0].configuration_hash === hash ? ws : undefined;
  });
  t.equal(after[0].restarts, 1);
  t.equal(after[1].pid, before[1].pid, 'the other worker was left alone');
  t.match(gw.logs(), /"msg":"worker exited; starting another","worker":1/);
  t.ok((await many('/open', 10, 4)).every((r) => r.status === 200));
});

t.test('access lines come through the primary, whole', async (t) => {
  const requests = (await status()).server.total_requests;
  const lines = await waitFor('every line written', () => {
    const l = readFileSync(accessLog, 'utf8').split('\n').filter(Boolean);
    return l.length >= requests ? l : undefined;
  });
  t.ok(lines.every((l) => JSON.parse(l).request_id !== undefined), 'every line is one JSON object');
});

t.test('SIGTERM drains the workers and exits 0', async (t) => {
  const pids = (await workers()).map((w) => w.pid);
  t.equal(await gw.stop(), 0);
  for (const pid of pids) t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} is gone`);
});

t.test('--workers is checked before anything starts', async (t) => {
  t.equal(workerCount('auto'), availableParallelism(), 'auto: one per core');
  t.equal(workerCount('3'), 3);
  const file = tempFile('kong.yml', yaml('_format_version: "3.0"'));
  for (const bad of ['0', '1025', 'two', '1.5']) {
    const r = runCli(['start', '-c', file, '--workers', bad]);
    t.equal(r.status, 1, bad);
    t.match(r.stderr, /--workers.*expected a whole number from 1 to 1024, or 'auto'/);
  }
  const r = runCli(['start', '-c', file], { env: { ...process.env, KONG_NGINX_WORKER_PROCESSES: 'many' } });
  t.equal(r.status, 1);
  t.match(r.stderr, /expected a whole number/);
  const broken = runCli(['start', '-c', tempFile('kong.yml', 'services: [\n'), '--workers', '2', '--admin-listen', 'off', '--proxy-listen', '127.0.0.1:0']);
  t.equal(broken.status, 1, 'a bad file fails before any worker starts');
  t.match(broken.stderr, /kong\.yml:\d+:\d+: /);
});

t.test('a proxy port in use fails the start', async (t) => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as AddressInfo).port;
  const r = await runCliAsync(['start', '-c', tempFile('kong.yml', yaml('_format_version: "3.0"')), '--workers', '2', '--admin-listen', 'off', '--proxy-listen', `127.0.0.1:${port}`]);
  taken.close();
  t.equal(r.status, 1);
  t.match(r.stderr, /EADDRINUSE/);
});
