import t from 'tap';
import { writeFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { request } from '../helpers/http';
import { startGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { basic, benchRoute, startBench, type AuthBench } from '../helpers/auth';

let bench: AuthBench;
let gw: AuthBench['gw'];
let upstream: AuthBench['upstream'];

const GUEST_ID = '0b9d6a52-6a0e-4c55-9d1b-7f1f3c4e2a10';
const hash = (password: string, cost = 4) => bcrypt.hashSync(password, cost);

const route = (name: string, config: string) => benchRoute(name, `[{name: basic-auth, config: ${config}}]`);

t.before(async () => {
  bench = await startBench(
    [
      ...route('default', '{}'),
      ...route('hide', '{hide_credentials: true}'),
      ...route('realm', '{realm: admin area}'),
      ...route('anon-id', `{anonymous: ${GUEST_ID}}`),
      ...route('anon-name', '{anonymous: guest}'),
    ],
    [
      'consumers:',
      '  - username: bob',
      '    custom_id: b-7',
      '    basicauth_credentials:',
      `      - {username: bob, password: '${hash('kong')}'}`,
      `      - {username: colon, password: '${hash('pass:word')}'}`,
      "      - {username: plain, password: 'in the clear'}",
      `      - {username: legacy-a, password: '${hash('old').replace(/^\$2b\$/, '$2a$')}'}`,
      `      - {username: legacy-y, password: '${hash('old').replace(/^\$2b\$/, '$2y$')}'}`,
      `  - id: ${GUEST_ID}`,
      '    username: guest',
    ],
  );
  ({ gw, upstream } = bench);
});
t.teardown(() => bench.close());

const seen = () => bench.seen();

t.test('no credentials: 401 Unauthorized with the default realm', async (t) => {
  const r = await request(gw.proxyPort, '/default');
  t.equal(r.status, 401);
  t.equal(r.json().message, 'Unauthorized');
  t.equal(r.headers['www-authenticate'], 'Basic realm="service"');
});

t.test('malformed, unknown or wrong credentials: 401 Unauthorized with the challenge', async (t) => {
  const before = upstream.seen.length;
  for (const authorization of ['foobar', 'Basic a29uZw==', 'Basic Ym9i', 'Basic !!!', 'Bearer abc', basic('bob', 'wrong'), basic('nobody', 'kong'), basic('bob', '')]) {
    const r = await request(gw.proxyPort, '/default', { headers: { authorization } });
    t.equal(r.status, 401, authorization);
    t.equal(r.json().message, 'Unauthorized');
    t.equal(r.headers['www-authenticate'], 'Basic realm="service"');
  }
  t.equal(upstream.seen.length, before);
});

t.test('valid credentials: consumer headers upstream; the credential identifier is the username', async (t) => {
  const r = await request(gw.proxyPort, '/default', { headers: { authorization: basic('bob', 'kong') } });
  t.equal(r.status, 200);
  const h = seen().headers;
  t.equal(h['x-consumer-username'], 'bob');
  t.equal(h['x-consumer-custom-id'], 'b-7');
  t.match(h['x-consumer-id'], /^[0-9a-f-]{36}$/);
  t.equal(h['x-credential-identifier'], 'bob');
  t.equal(h['x-anonymous-consumer'], undefined);
  t.equal(h.authorization, basic('bob', 'kong'), 'kept without hide_credentials');
  t.equal((await request(gw.proxyPort, '/default', { headers: { authorization: `  basic ${basic('bob', 'kong').slice(6)}` } })).status, 200, "Kong's [Bb]asic prefix");
});

t.test('a password may hold ":"; a plaintext password from the file works; $2a$ and $2y$ hashes work', async (t) => {
  t.equal((await request(gw.proxyPort, '/default', { headers: { authorization: basic('colon', 'pass:word') } })).status, 200);
  t.equal((await request(gw.proxyPort, '/default', { headers: { authorization: basic('plain', 'in the clear') } })).status, 200);
  t.equal((await request(gw.proxyPort, '/default', { headers: { authorization: basic('plain', 'in the') } })).status, 401);
  t.equal((await request(gw.proxyPort, '/default', { headers: { authorization: basic('legacy-a', 'old') } })).status, 200);
  t.equal((await request(gw.proxyPort, '/default', { headers: { authorization: basic('legacy-y', 'old') } })).status, 200);
});

t.test('Proxy-Authorization is read first, then Authorization', async (t) => {
  t.equal((await request(gw.proxyPort, '/default', { headers: { 'proxy-authorization': basic('bob', 'kong') } })).status, 200);
  const both = await request(gw.proxyPort, '/default', { headers: { 'proxy-authorization': basic('nobody', 'x'), authorization: basic('colon', 'pass:word') } });
  t.equal(both.status, 200);
  t.equal(seen().headers['x-consumer-username'], 'bob');
  t.equal(seen().headers['x-credential-identifier'], 'colon');
});

t.test('hide_credentials: Authorization and Proxy-Authorization are gone upstream', async (t) => {
  t.equal((await request(gw.proxyPort, '/hide', { headers: { authorization: basic('bob', 'kong') } })).status, 200);
  t.equal(seen().headers.authorization, undefined);
  t.equal((await request(gw.proxyPort, '/hide', { headers: { 'proxy-authorization': basic('bob', 'kong') } })).status, 200);
  t.equal(seen().headers['proxy-authorization'], undefined);
});

t.test('a header seen before (remembered) gets the same treatment as the first time', async (t) => {
  for (const path of ['/default', '/hide']) {
    for (let i = 0; i < 2; i++) {
      t.equal((await request(gw.proxyPort, path, { headers: { authorization: basic('colon', 'pass:word') } })).status, 200);
      const h = seen().headers;
      t.equal(h['x-credential-identifier'], 'colon');
      t.equal(h['x-consumer-username'], 'bob');
      t.equal(h.authorization, path === '/hide' ? undefined : basic('colon', 'pass:word'));
    }
  }
  t.equal((await request(gw.proxyPort, '/default', { headers: { authorization: basic('colon', 'pass:wor') } })).status, 401);
  const both = await request(gw.proxyPort, '/default', { headers: { 'proxy-authorization': basic('bob', 'wrong'), authorization: basic('colon', 'pass:word') } });
  t.equal(both.status, 401, 'Proxy-Authorization still decides first, remembered Authorization or not');
});

t.test('realm', async (t) => {
  t.equal((await request(gw.proxyPort, '/realm')).headers['www-authenticate'], 'Basic realm="admin area"');
  t.equal((await request(gw.proxyPort, '/realm', { headers: { authorization: basic('bob', 'no') } })).headers['www-authenticate'], 'Basic realm="admin area"');
});

t.test('anonymous by id and by username', async (t) => {
  for (const path of ['/anon-id', '/anon-name']) {
    for (const headers of [{}, { authorization: basic('bob', 'wrong') }, { authorization: 'garbage' }] as Record<string, string>[]) {
      t.equal((await request(gw.proxyPort, path, { headers })).status, 200);
      t.equal(seen().headers['x-consumer-id'], GUEST_ID);
      t.equal(seen().headers['x-consumer-username'], 'guest');
      t.equal(seen().headers['x-anonymous-consumer'], 'true');
      t.equal(seen().headers['x-credential-identifier'], undefined);
    }
    t.equal((await request(gw.proxyPort, path, { headers: { authorization: basic('bob', 'kong') } })).status, 200);
    t.equal(seen().headers['x-consumer-username'], 'bob');
  }
});

t.test('spoofed consumer headers are replaced', async (t) => {
  const r = await request(gw.proxyPort, '/default', { headers: { authorization: basic('bob', 'kong'), 'x-consumer-username': 'root', 'x-credential-identifier': 'root' } });
  t.equal(r.status, 200);
  t.equal(seen().headers['x-consumer-username'], 'bob');
  t.equal(seen().headers['x-credential-identifier'], 'bob');
});

t.test('a reload or a changed password invalidates remembered verifications', async (t) => {
  const config = (password: string) =>
    yaml(
      '_format_version: "3.0"',
      `services: [{name: up, url: "http://127.0.0.1:${upstream.port}", routes: [{name: r, paths: [/], plugins: [{name: basic-auth}]}]}]`,
      `consumers: [{username: u, basicauth_credentials: [{username: u, password: '${password}'}]}]`,
    );
  const local = await startGateway(config(hash('first')));
  t.teardown(() => local.stop());
  const as = (password: string) => request(local.proxyPort, '/', { headers: { authorization: basic('u', password) } }).then((r) => r.status);
  t.equal(await as('first'), 200);
  t.equal(await as('first'), 200, 'remembered');
  writeFileSync(local.configFile, config(hash('second')));
  local.proc.kill('SIGHUP');
  await waitFor(() => as('second').then((s) => s === 200));
  t.equal(await as('first'), 401, 'the old password no longer passes');
  writeFileSync(local.configFile, config('plain-one'));
  local.proc.kill('SIGHUP');
  await waitFor(() => as('plain-one').then((s) => s === 200));
  t.equal(await as('second'), 401);
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not reached');
}
