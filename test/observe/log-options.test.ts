// --log-level, --log-format, --access-log and the metrics switches, on the real CLI.
import t from 'tap';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { request } from '../helpers/http';
import { BIN, runCli, startGateway, tempFile } from '../helpers/cli';
import { answering } from '../helpers/config';
import { waitFor, writeByRename } from '../helpers/wait';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the CLI with `args` on a known proxy port, without relying on any log line; resolves once it answers. */
async function spawnGateway(configFile: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const port = await freePort();
  const proc = spawn(process.execPath, [BIN, 'start', '-c', configFile, '--proxy-listen', `127.0.0.1:${port}`, '--admin-listen', 'off', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await waitFor('the gateway to answer', () => request(port, '/').then(() => true, () => undefined));
  return {
    port,
    stdout: () => stdout,
    stderr: () => stderr,
    stop: () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

t.test('--log-format pretty: one readable line per event and per request', async (t) => {
  const gw = await spawnGateway(tempFile('kong.yml', answering('hi')), ['--log-format', 'pretty']);
  const r = await request(gw.port, '/?apikey=x', { headers: { 'X-Request-Id': 'pretty-1' } });
  t.equal(r.status, 200);
  await waitFor('the access line', () => (gw.stdout().includes('pretty-1') ? true : undefined));
  await gw.stop();
  t.match(gw.stderr(), /^\d\d:\d\d:\d\d\.\d{3} INFO  gateway listening proxy=127\.0\.0\.1:\d+ admin=off config=\S+ /m);
  t.match(gw.stdout(), /^\d\d:\d\d:\d\d\.\d{3} GET \/\?apikey=x 200 \d+ms request_id=pretty-1 client_ip=\S+ gateway_latency_ms=\d+ bytes_in=\d+ bytes_out=\d+ route=root reason=termination$/m);
  t.notMatch(gw.stdout() + gw.stderr(), /^\{/m, 'no JSON line');
});

t.test('--log-level (or KONG_LOG_LEVEL) hides events below it', async (t) => {
  const file = tempFile('kong.yml', answering('one'));
  const gw = await spawnGateway(file, ['--access-log', 'off'], { ...process.env, KONG_LOG_LEVEL: 'warn' });
  // No log line says when the file watcher is ready: write (whole files, now and then) until the edit is seen.
  let written = 0;
  await waitFor('the rejection', () => {
    if (Date.now() - written > 300) {
      writeByRename(file, `services: [oops${written}`);
      written = Date.now();
    }
    return gw.stderr().includes('config rejected') ? true : undefined;
  });
  writeByRename(file, answering('two'));
  await waitFor('the new config', async () => ((await request(gw.port, '/')).body === 'two' ? true : undefined));
  await gw.stop();
  t.match(gw.stderr(), /"level":"error","time":"[^"]+","msg":"config rejected; previous config keeps serving"/);
  t.notMatch(gw.stderr(), /gateway listening|config reloaded|shutting down/, 'no info line');
  t.equal(gw.stdout(), '', '--access-log off: no access line');

  const bad = runCli(['start', '-c', file, '--log-level', 'chatty']);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /--log-level <level>' argument 'chatty' is invalid/);
});

t.test('an access log file that cannot be opened stops the start with a clear error', async (t) => {
  const r = runCli(['start', '-c', tempFile('kong.yml', answering('x')), '--proxy-listen', '127.0.0.1:0', '--access-log', '/nonexistent-dir/access.log']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^error: ENOENT: no such file or directory, open '\/nonexistent-dir\/access\.log'/m);
});

t.test('--no-metrics: /metrics is not there; the rest of the Admin API is', async (t) => {
  const gw = await startGateway(answering('x'), { args: ['--no-metrics'] });
  t.teardown(() => gw.stop());
  const r = await request(gw.adminPort!, '/metrics');
  t.equal(r.status, 404);
  t.same(r.json(), { message: 'Not found' });
  t.equal((await request(gw.adminPort!, '/status')).status, 200);
});
