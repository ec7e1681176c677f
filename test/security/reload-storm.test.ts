import t from 'tap';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request, startUpstream } from '../helpers/http';
import { startGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { count, waitFor, writeByRename } from '../helpers/wait';

// Issue 9: the file rewritten 20 times a second for a minute under traffic. RELOAD_STORM_SECONDS shortens a local run.
const STORM_MS = Number(process.env.RELOAD_STORM_SECONDS ?? 60) * 1000;
const WRITE_EVERY_MS = 50;
const CONNECTIONS = 6;
const KEY = 'storm-key';

/**
 * Valid config n: /answer is answered by the gateway with `cfg-n`; /up is proxied to the upstream under the path
 * /cfg-n, which the upstream echoes. Odd configs put key-auth on the service, so plugins are compiled and dropped
 * on every other reload; clients always send the key.
 */
function valid(n: number, upstreamPort: number): string {
  return yaml(
    '_format_version: "3.0"',
    'services:',
    '  - name: up',
    `    url: http://127.0.0.1:${upstreamPort}/cfg-${n}`,
    ...(n % 2 === 1 ? ['    plugins: [{name: key-auth}]'] : []),
    '    routes:',
    '      - {name: proxied, paths: [/up]}',
    '      - name: answered',
    '        paths: [/answer]',
    `        plugins: [{name: request-termination, config: {status_code: 200, message: cfg-${n}}}]`,
    'consumers:',
    `  - {username: client, keyauth_credentials: [{key: ${KEY}}]}`,
  );
}

/** Three kinds of rejected file; each differs from the last, so none is skipped as unchanged. */
function invalid(n: number): string {
  switch (n % 3) {
    case 0:
      return yaml('_format_version: "3.0"', 'routes:', '  - name: broken', `    service: ghost-${n}`, '    paths: [/answer]');
    case 1:
      return yaml('_format_version: "3.0"', 'services:', `  - name: s-${n}`, '    port: 99999', '    host: example.test');
    default:
      return yaml('_format_version: "3.0"', `# ghost-${n}`, 'routes: [', '  - {name: x');
  }
}

/** The config number an answer identifies, or a description of what is wrong with it. */
function configOf(path: string, status: number, body: string): number | string {
  if (status !== 200) return `status ${status}: ${body.slice(0, 120)}`;
  let m: RegExpExecArray | null;
  if (path === '/answer') m = /^\{"message":"cfg-(\d+)"/.exec(body);
  else {
    let echo: any;
    try {
      echo = JSON.parse(body);
    } catch {
      return `not JSON: ${body.slice(0, 80)}`;
    }
    m = /^\/cfg-(\d+)$/.exec(echo.url);
  }
  return m ? Number(m[1]) : `unrecognised answer: ${body.slice(0, 120)}`;
}

t.test('reload storm: 20 writes a second for a minute under keep-alive traffic', { timeout: STORM_MS + 60_000 }, async (t) => {
  const upstream = await startUpstream();
  const gw = await startGateway(valid(0, upstream.port));
  t.teardown(async () => {
    await gw.stop();
    await upstream.close();
  });

  const failures: string[] = [];
  let answered = 0;
  let storming = true;
  const hardStop = setTimeout(() => (storming = false), STORM_MS + 5_000); // the writer below should end first

  // Each client: one keep-alive connection, one request after another, both routes in turn. The config numbers one
  // connection sees never go down: reloads are applied in order and each reads the file as it is then.
  const client = async (c: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let latest = 0;
    for (let i = c; storming; i++) {
      const path = i % 2 === 0 ? '/answer' : '/up';
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: gw.proxyPort, path, agent, headers: { apikey: KEY }, timeout: 10_000 }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => {
            answered++;
            const n = configOf(path, res.statusCode ?? 0, body);
            if (typeof n === 'string') failures.push(`${path}: ${n}`);
            else if (n < latest) failures.push(`${path}: cfg-${n} after cfg-${latest}`);
            else latest = n;
            resolve();
          });
        });
        req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
        req.on('error', (err) => {
          failures.push(`${path}: ${err.message}`);
          resolve();
        });
      });
    }
    agent.destroy();
  };
  const clients = Array.from({ length: CONNECTIONS }, (_, c) => client(c));

  // Every fifth write is invalid; writes alternate between in-place and write-then-rename. The watcher coalesces
  // writes (it reloads at least once a second while they keep coming), so the gateway loads some of them, and the
  // last one, which is valid.
  let writes = 0;
  const start = Date.now();
  while (Date.now() < start + STORM_MS && storming) {
    writes++;
    const text = writes % 5 === 0 ? invalid(writes) : valid(writes, upstream.port);
    if (writes % 2 === 0) writeByRename(gw.configFile, text);
    else writeFileSync(gw.configFile, text);
    await new Promise((r) => setTimeout(r, start + writes * WRITE_EVERY_MS - Date.now())); // on a fixed schedule
  }
  const lastValid = ++writes;
  const lastText = valid(lastValid, upstream.port);
  writeFileSync(gw.configFile, lastText);
  const lastHash = createHash('md5').update(lastText).digest('hex');
  await waitFor('the last write to be loaded', () => (gw.logs().includes(`"configuration_hash":"${lastHash}"`) ? true : undefined));

  storming = false;
  clearTimeout(hardStop);
  await Promise.all(clients);

  t.same(failures, [], `no failed request, no 5xx, no config going backwards (${answered} answers, ${writes} writes)`);
  t.ok(answered > CONNECTIONS, 'traffic flowed throughout');
  const reloaded = count(gw.logs(), /"msg":"config reloaded"/);
  const rejected = count(gw.logs(), /"msg":"config rejected/);
  t.ok(reloaded > 1 && rejected > 1, `reloads were accepted and rejected during the storm (${reloaded} accepted, ${rejected} rejected)`);

  const answer = await request(gw.proxyPort, '/answer', { headers: { apikey: KEY } });
  t.equal(configOf('/answer', answer.status, answer.body), lastValid, `the gateway serves the last valid config (cfg-${lastValid})`);
  const accepted = gw.logs().split('\n').filter((l) => l.includes('"msg":"config reloaded"'));
  t.match(accepted[accepted.length - 1], `"configuration_hash":"${lastHash}"`, 'it is the last config the gateway accepted');
  t.equal(gw.proc.exitCode, null, 'the process is still up');
  const errors = gw
    .logs()
    .split('\n')
    .filter((l) => /"level":"(error|fatal)"/.test(l) && !l.includes('"msg":"config rejected; previous config keeps serving"'));
  t.same(errors, [], 'no error logged other than the rejected configs');
});
