import t from 'tap';
import { request } from '../helpers/http';
import { runCli, startGateway, tempFile } from '../helpers/cli';
import { yaml } from '../helpers/config';

const CONFIG = yaml('_format_version: "3.0"', 'consumers: [{username: alice}]');
const TOKEN = 'correct-horse-battery-staple-9f2c';
const envWithout = () => {
  const env = { ...process.env };
  delete env.GATEWAY_ADMIN_TOKEN;
  return env;
};

t.test('an Admin API off loopback without a token refuses to start', async (t) => {
  const file = tempFile('kong.yml', CONFIG);
  for (const addr of ['0.0.0.0:0', '[::]:0']) {
    const r = runCli(['start', '-c', file, '--proxy-listen', '127.0.0.1:0', '--admin-listen', addr], { env: envWithout() });
    t.equal(r.status, 1, addr);
    t.match(r.stderr, /is not a loopback address: set an admin token \(--admin-token or GATEWAY_ADMIN_TOKEN\)/, addr);
    t.notMatch(r.stderr, /listening/);
  }
  const empty = runCli(['start', '-c', file, '--proxy-listen', '127.0.0.1:0', '--admin-listen', '0.0.0.0:0', '--admin-token', ''], { env: envWithout() });
  t.equal(empty.status, 1);
  t.match(empty.stderr, /the admin token is empty/);
});

t.test('a token no request could carry is refused at start, without quoting it', async (t) => {
  const file = tempFile('kong.yml', CONFIG);
  const start = (args: string[], env = envWithout()) => runCli(['start', '-c', file, '--proxy-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', ...args], { env });
  for (const token of [' ', '   ', '\t', ' \t ']) {
    const r = start(['--admin-token', token]);
    t.equal(r.status, 1, JSON.stringify(token));
    t.match(r.stderr, /^error: the admin token is empty or only whitespace \(--admin-token or GATEWAY_ADMIN_TOKEN\)\n$/, JSON.stringify(token));
    t.notMatch(r.stderr, /listening/);
  }
  const fromEnv = start([], { ...envWithout(), GATEWAY_ADMIN_TOKEN: '  ' });
  t.equal(fromEnv.status, 1, 'from the environment too');
  t.match(fromEnv.stderr, /the admin token is empty or only whitespace/);

  const padded = start(['--admin-token', ' secret-padded ']);
  t.equal(padded.status, 1);
  t.match(padded.stderr, /the admin token starts or ends with whitespace .*no request could carry it/);
  t.notMatch(padded.stderr, /secret-padded/, 'the token is not quoted');
  for (const token of ['line\nbreak-secret', 'caf\u00e9-secret', 'tab\tinside-secret']) {
    const r = start(['--admin-token', token]);
    t.equal(r.status, 1, JSON.stringify(token));
    t.match(r.stderr, /the admin token .* must be printable ASCII/, JSON.stringify(token));
    t.notMatch(r.stderr, /-secret/, 'the token is not quoted');
  }
});

t.test('with a token, every request must carry it (Bearer or Kong-Admin-Token)', async (t) => {
  const gw = await startGateway(CONFIG, { args: ['--admin-listen', '0.0.0.0:0'], env: { ...envWithout(), GATEWAY_ADMIN_TOKEN: TOKEN } });
  t.teardown(() => gw.stop());
  const ask = (path: string, headers: Record<string, string> = {}, method = 'GET') => request(gw.adminPort!, path, { headers, method });

  for (const [what, headers] of [
    ['no token', {}],
    ['a wrong token', { Authorization: 'Bearer wrong' }],
    ['a prefix of the token', { Authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ['a wrong Kong-Admin-Token', { 'Kong-Admin-Token': 'nope' }],
    ['the token as Basic', { Authorization: `Basic ${TOKEN}` }],
  ] as const) {
    for (const path of ['/', '/consumers/alice', '/nothing']) {
      const r = await ask(path, headers);
      t.equal(r.status, 401, `${what}: ${path}`);
      t.same(r.json(), { message: 'Invalid or missing admin token' });
      t.match(r.headers['www-authenticate'], /^Bearer /);
    }
  }
  const posted = await request(gw.adminPort!, '/config', { method: 'POST', headers: { 'Content-Type': 'text/yaml' }, body: CONFIG });
  t.equal(posted.status, 401, 'POST /config too');

  t.equal((await ask('/consumers/alice', { Authorization: `Bearer ${TOKEN}` })).json().username, 'alice');
  t.equal((await ask('/consumers/alice', { authorization: `bearer ${TOKEN}` })).status, 200, 'the scheme is case-insensitive');
  t.equal((await ask('/consumers/alice', { 'Kong-Admin-Token': TOKEN })).status, 200);
  t.equal((await ask('/nothing', { 'Kong-Admin-Token': TOKEN })).status, 404);
  t.notMatch(gw.logs(), new RegExp(TOKEN), 'the token never reaches the logs');
});

t.test('a token given on loopback is enforced too; the flag beats the environment', async (t) => {
  const gw = await startGateway(CONFIG, { args: ['--admin-token', 'from-flag'], env: { ...envWithout(), GATEWAY_ADMIN_TOKEN: 'from-env' } });
  t.teardown(() => gw.stop());
  t.equal((await request(gw.adminPort!, '/')).status, 401);
  t.equal((await request(gw.adminPort!, '/', { headers: { Authorization: 'Bearer from-env' } })).status, 401);
  t.equal((await request(gw.adminPort!, '/', { headers: { Authorization: 'Bearer from-flag' } })).status, 200);
});
