import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { request } from './helpers/http';
import { runCli, startGateway, type RunningGateway } from './helpers/cli';
import { basic } from './helpers/auth';

// Every example passes `gateway validate --strict` and answers the curl lines written in it, with no upstream.
const ROOT = join(__dirname, '..');
const EXAMPLES = join(ROOT, 'examples');
const start = (file: string) => startGateway('', { file });
const headersOf = (r: { json(): any }) => r.json().request.headers;

t.test('every example validates, without warnings', async (t) => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yml'));
  t.ok(files.length >= 3);
  const r = runCli(['validate', '--strict', ...files.map((f) => join(EXAMPLES, f)), join(ROOT, 'kong.yml')]);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '');
});

t.test('examples/multiple-auth.yml', async (t) => {
  const gw: RunningGateway = await start(join(EXAMPLES, 'multiple-auth.yml'));
  t.teardown(() => gw.stop());
  for (const path of ['/user-agent?apikey=nonsense', '/user-agent']) {
    const r = await request(gw.proxyPort, path);
    t.equal(r.status, 401);
    t.equal(r.body, '{"error": "Authentication required"}');
  }
  const key = await request(gw.proxyPort, '/user-agent?apikey=hunter3-6b0e9d2c7a4f1853');
  t.equal(key.status, 200);
  t.equal(headersOf(key)['x-consumer-username'], 'ezhik');
  t.same(key.json().request.query, {}, 'hide_credentials');
  const user = await request(gw.proxyPort, '/user-agent', { headers: { authorization: basic('medvezhonok', 'hunter2') } });
  t.equal(user.status, 200);
  t.equal(headersOf(user)['x-consumer-username'], 'medvezhonok');
  t.equal(headersOf(user).authorization, undefined);
});

t.test('examples/four-way-auth.yml: its curl lines, run as written', async (t) => {
  const gw = await start(join(EXAMPLES, 'four-way-auth.yml'));
  t.teardown(() => gw.stop());
  const text = readFileSync(join(EXAMPLES, 'four-way-auth.yml'), 'utf8');
  const lines = text.split('\n').filter((l) => /^# {3}(curl|d=)/.test(l)).map((l) => l.slice(4).replace(/ +# \d{3}.*$/, '').replaceAll('localhost:8000', `127.0.0.1:${gw.proxyPort}`));
  t.equal(lines.length, 5);
  const run = (line: string) => spawnSync('bash', ['-c', line], { encoding: 'utf8' });
  if (run('command -v curl && command -v openssl').status !== 0) return t.skip('curl or openssl missing');
  const [refused, ...accepted] = lines.map((l) => run(l).stdout);
  t.equal(refused, '{"error": "Authentication required"}');
  const users = accepted.map((body) => JSON.parse(body).request.headers['x-consumer-username']);
  t.same(users, ['ezhik', 'medvezhonok', 'lisa', 'sova']);
  const authorization = accepted.map((body) => JSON.parse(body).request.headers.authorization);
  t.equal(authorization[1], undefined, 'basic-auth: hide_credentials');
  t.match(authorization[2], /^Bearer /, 'jwt has no hide_credentials');
  t.equal(authorization[3], undefined, 'hmac-auth: hide_credentials');
});

t.test('examples/anonymous-read-only.yml', async (t) => {
  const gw = await start(join(EXAMPLES, 'anonymous-read-only.yml'));
  t.teardown(() => gw.stop());
  const read = await request(gw.proxyPort, '/articles');
  t.equal(read.status, 200);
  t.equal(headersOf(read)['x-consumer-username'], 'anonymous_users');
  t.equal(headersOf(read)['x-consumer-groups'], 'read');
  const write = await request(gw.proxyPort, '/articles', { method: 'POST' });
  t.equal(write.status, 401);
  t.equal(write.headers['www-authenticate'], 'Key, Basic realm="articles"');
  const editor = await request(gw.proxyPort, '/articles', { method: 'POST', headers: { authorization: basic('editor', 'editor-pass') } });
  t.equal(editor.status, 200);
  t.equal(headersOf(editor)['x-consumer-username'], 'editor');
  t.equal(headersOf(editor)['x-consumer-groups'], 'read, write');
  t.equal((await request(gw.proxyPort, '/articles', { method: 'POST', headers: { apikey: 'editor-5d9c2a7f0e3b6148' } })).status, 200);
  const reader = await request(gw.proxyPort, '/articles', { method: 'POST', headers: { apikey: 'reader-8a2f6c1e9d4b7035' } });
  t.equal(reader.status, 403);
  t.equal(reader.json().message, 'You cannot consume this service');
});

t.test('examples/key-auth-one-route.yml', async (t) => {
  const gw = await start(join(EXAMPLES, 'key-auth-one-route.yml'));
  t.teardown(() => gw.stop());
  const open = await request(gw.proxyPort, '/open');
  t.equal(open.status, 200);
  t.equal(headersOf(open)['x-consumer-id'], undefined);
  const none = await request(gw.proxyPort, '/mock');
  t.equal(none.status, 401);
  t.equal(none.json().message, 'No API key found in request');
  t.equal(none.headers['www-authenticate'], 'Key');
  const bad = await request(gw.proxyPort, '/mock', { headers: { apikey: 'bad-key' } });
  t.equal(bad.status, 401);
  t.equal(bad.json().message, 'Unauthorized');
  const good = await request(gw.proxyPort, '/mock', { headers: { apikey: 'luka-1f8e4c6a9b2d7053' } });
  t.equal(good.status, 200);
  t.equal(headersOf(good)['x-consumer-username'], 'luka');
});

t.test("the bundled kong.yml's key-auth demo", async (t) => {
  const gw = await start(join(ROOT, 'kong.yml'));
  t.teardown(() => gw.stop());
  const guest = await request(gw.proxyPort, '/whoami');
  t.equal(guest.status, 200);
  t.equal(headersOf(guest)['x-consumer-username'], 'guest');
  t.equal(headersOf(guest)['x-anonymous-consumer'], 'true');
  const demo = await request(gw.proxyPort, '/whoami', { headers: { apikey: 'demo-7c1e5a9f3b2d8604' } });
  t.equal(headersOf(demo)['x-consumer-username'], 'demo');
  t.equal(headersOf(demo)['x-anonymous-consumer'], undefined);
});
