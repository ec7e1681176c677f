import t from 'tap';
import http from 'node:http';
import { startGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { count, waitFor, writeByRename } from '../helpers/wait';

/**
 * Two configs that answer every route differently, each answer built from several parts of the snapshot: the router
 * (matched route), the service entity, and the plugin chain resolved by precedence (a route-level plugin on even
 * routes, the global one on odd routes). A response mixing two snapshots would show two versions in one body.
 */
const ROUTES = 6;
const STATUS = { A: 200, B: 202 } as const;
type Version = keyof typeof STATUS;

function config(v: Version): string {
  const lines = [
    '_format_version: "3.0"',
    'services:',
    `  - name: svc-${v}`,
    '    url: http://127.0.0.1:9/',
    '    routes:',
  ];
  for (let i = 0; i < ROUTES; i++) {
    lines.push(`      - name: ${v}-${i}`, `        paths: [/r${i}]`);
    if (i % 2 === 0) lines.push(`        plugins: [{name: request-termination, config: {status_code: ${STATUS[v]}, echo: true, message: ${v}-route}}]`);
  }
  lines.push('plugins:', `  - {name: request-termination, config: {status_code: ${STATUS[v]}, echo: true, message: ${v}-global}}`);
  return yaml(...lines);
}

// Valid YAML, valid schema, but a dangling reference: rejected after parsing and schema validation.
const INVALID = yaml('_format_version: "3.0"', 'routes:', '  - name: broken', '    service: nowhere', '    paths: [/r0]');

/** Undefined when the response is wholly version A or wholly version B; otherwise what is wrong with it. */
function inconsistency(route: number, status: number, body: string): string | undefined {
  const v = (Object.keys(STATUS) as Version[]).find((k) => STATUS[k] === status);
  if (v === undefined) return `status ${status}`;
  let echo: any;
  try {
    echo = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 80)}`;
  }
  const expected = { message: `${v}-${route % 2 === 0 ? 'route' : 'global'}`, route: `${v}-${route}`, service: `svc-${v}` };
  const got = { message: echo.message, route: echo.matched_route?.name, service: echo.matched_service?.name };
  return JSON.stringify(got) === JSON.stringify(expected) ? undefined : `expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`;
}

t.test('continuous traffic while the file is rewritten 51 times: no failure, every answer from one whole snapshot', async (t) => {
  const gw = await startGateway(config('A'));
  t.teardown(() => gw.stop());

  const CONNECTIONS = 8;
  const seen: Record<Version, number> = { A: 0, B: 0 };
  const failures: string[] = [];
  let total = 0;
  let writing = true;

  const client = async (n: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let i = n;
    while (writing) {
      const route = i++ % ROUTES;
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: gw.proxyPort, path: `/r${route}`, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => {
            total++;
            const problem = inconsistency(route, res.statusCode ?? 0, body);
            if (problem) failures.push(`/r${route}: ${problem}`);
            else seen[res.statusCode === STATUS.A ? 'A' : 'B']++;
            resolve();
          });
        });
        req.on('error', (err) => {
          failures.push(`/r${route}: ${err.message}`);
          resolve();
        });
      });
    }
    agent.destroy();
  };
  const clients = Array.from({ length: CONNECTIONS }, (_, n) => client(n));

  // A, B, invalid, A, B, invalid, …: each write waits for its reload (accepted or rejected) to be logged.
  const sequence = [config('B'), INVALID, config('A')];
  const reloads = () => count(gw.logs(), /"msg":"config (reloaded|rejected; previous config keeps serving)"/);
  const WRITES = 51;
  for (let w = 0; w < WRITES; w++) {
    writeByRename(gw.configFile, sequence[w % sequence.length]);
    await waitFor(`reload ${w + 1}`, () => (reloads() > w ? true : undefined));
  }
  writing = false;
  await Promise.all(clients);

  t.same(failures, [], 'no failed request, no 5xx, no mixed answer');
  t.equal(count(gw.logs(), /"msg":"config reloaded"/), (WRITES / 3) * 2, 'every valid write went live');
  t.equal(count(gw.logs(), /"msg":"config rejected/), WRITES / 3, 'every invalid write was rejected');
  t.ok(seen.A > 0 && seen.B > 0, `answers from both configs (A: ${seen.A}, B: ${seen.B}, total ${total})`);
  t.equal(gw.proc.exitCode, null, 'the process is still up');
});
