import t from 'tap';
import { join } from 'node:path';
import { request } from '../helpers/http';
import { runCli, startGateway, tempFile } from '../helpers/cli';
import { yaml } from '../helpers/config';

const BUNDLED = join(__dirname, '..', '..', 'kong.yml');

t.test('validate: valid file exits 0', async (t) => {
  const r = runCli(['validate', BUNDLED]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /kong\.yml: valid/);
});

t.test('validate: invalid file exits 1 with FILE:LINE:COL: path: message lines', async (t) => {
  const file = tempFile('bad.yml', yaml('_format_version: "3.0"', 'services:', '  - name: a', '    host: x', '    routes:', '      - paths: [nope]'));
  const r = runCli(['validate', file]);
  t.equal(r.status, 1);
  t.equal(r.stderr, `${file}:6:17: services[0].routes[0].paths[0]: must start with "/" or "~"\n`);
});

t.test('validate: several files, JSON format', async (t) => {
  const bad = tempFile('bad.yml', yaml('_format_version: "3.0"', 'consumers: [{tags: [a]}]'));
  const r = runCli(['validate', '--format', 'json', BUNDLED, bad]);
  t.equal(r.status, 1);
  const out = JSON.parse(r.stdout);
  t.equal(out.valid, false);
  t.same(out.files.map((f: { valid: boolean }) => f.valid), [true, false]);
  t.equal(out.issues.length, 1);
  t.match(out.issues[0], { file: bad, line: 2, col: 13, path: 'consumers[0]', severity: 'error' });
});

t.test('validate: a missing file is a located error', async (t) => {
  const r = runCli(['validate', '/nonexistent/kong.yml']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^\/nonexistent\/kong\.yml:1:1: cannot read file \(ENOENT\)/);
});

t.test('start on an invalid file exits non-zero before opening a port', async (t) => {
  const file = tempFile('bad.yml', yaml('_format_version: "3.0"', 'services: [{name: a}]'));
  const r = runCli(['start', '-c', file, '--proxy-listen', '127.0.0.1:0', '--admin-listen', 'off']);
  t.equal(r.status, 1);
  t.equal(r.stderr, `${file}:2:12: services[0].host: required field missing\n`);
  t.notMatch(r.stderr, /listening/);
});

t.test('start serves the bundled kong.yml with no upstream running', async (t) => {
  const gw = await startGateway('', { file: BUNDLED });
  t.teardown(() => gw.stop());
  const hello = await request(gw.proxyPort, '/hello');
  t.equal(hello.status, 200);
  t.same(hello.json(), { hello: 'world' });
  const echo = await request(gw.proxyPort, '/echo?x=1');
  t.equal(echo.status, 200);
  t.same(echo.json().request.query, { x: '1' });
  const down = await request(gw.proxyPort, '/maintenance');
  t.equal(down.status, 503);
  t.equal(down.json().message, 'Down for maintenance, back soon');
  t.equal(gw.logs().match(/gateway listening/g)!.length, 1, 'one log line when listening');
});

t.test("Kong's environment variables work; flags win", async (t) => {
  const file = tempFile('kong.yml', yaml('_format_version: "3.0"', 'routes: [{paths: [/], plugins: [{name: request-termination, config: {status_code: 200, body: env}}]}]'));
  const env = { ...process.env, KONG_DECLARATIVE_CONFIG: file, KONG_PROXY_LISTEN: '127.0.0.1:1', KONG_ADMIN_LISTEN: 'off' };
  const gw = await startGateway('', { file, env, adminFlag: false });
  t.teardown(() => gw.stop());
  t.equal(gw.adminPort, undefined, 'KONG_ADMIN_LISTEN=off is honoured');
  t.equal((await request(gw.proxyPort, '/')).body, 'env', '--proxy-listen beat KONG_PROXY_LISTEN=127.0.0.1:1');
});
