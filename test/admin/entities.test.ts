import t from 'tap';
import bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type Reply } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { PLUGINS } from '../../src/plugins';

let gw: RunningGateway;

const CONFIG = yaml(
  '_format_version: "3.0"',
  'services:',
  '  - name: svc-1',
  '    url: http://127.0.0.1:9/',
  '    routes:',
  '      - name: route-1',
  '        paths: [/one]',
  '        plugins: [{name: request-termination, instance_name: rt-route, config: {status_code: 200, body: one}}]',
  '      - name: route-2',
  '        paths: [/two]',
  '    plugins: [{name: request-termination, config: {status_code: 503}}]',
  '  - name: svc-2',
  '    host: example.test',
  'routes:',
  '  - name: lonely',
  '    paths: [/lonely]',
  'consumers:',
  '  - username: alice',
  '    custom_id: alice-1',
  '    keyauth_credentials: [{key: alice-key}]',
  '    basicauth_credentials: [{username: alice, password: alice-password}]',
  '    acls: [{group: admins}, {group: staff}]',
  '    plugins: [{name: request-termination, config: {status_code: 403}}]',
  '  - username: bob',
  '    keyauth_credentials: [{key: bob-key}]',
  '    acls: [{group: staff}]',
  '  - {username: carol}',
  '  - {username: dave}',
  '  - {username: erin}',
  'plugins:',
  '  - {name: request-termination, config: {status_code: 404}}',
);

t.before(async () => {
  // Keys as Kong OSS shows them; masking (the default) is tested in test/observe/secrets.test.ts.
  gw = await startGateway(CONFIG, { args: ['--admin-show-secrets'] });
});
t.teardown(() => gw.stop());

const send = (path: string, method = 'GET', body?: string): Promise<Reply> =>
  request(gw.adminPort!, path, {
    method,
    body,
    headers: body ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } : undefined,
  });
const json = async (path: string, status = 200) => {
  const r = await send(path);
  if (r.status !== status) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
  return r.json();
};
/** The id of an entity found through the API itself. */
const idOf = async (path: string) => (await json(path)).id as string;

t.test('GET / and /status', async (t) => {
  const root = await json('/');
  t.match(root, { version: /^\d+\.\d+\.\d+/, node_id: /^[0-9a-f-]{36}$/, configuration: { database: 'off', declarative_config: gw.configFile } });
  t.same(root.plugins.available_on_server['request-termination'], { version: '1.0.0', priority: 2 });
  t.same(root.plugins.enabled_in_cluster, ['request-termination']);
  const hash = createHash('md5').update(readFileSync(gw.configFile)).digest('hex');
  t.equal(root.configuration_hash, hash);

  await send('/'); // a proxy-independent request count check follows on the proxy side
  await request(gw.proxyPort, '/one');
  const status = await json('/status');
  t.equal(status.configuration_hash, hash);
  t.ok(status.server.total_requests >= 1 && status.server.connections_accepted >= 1);
  t.equal(status.last_reload, null, 'nothing reloaded yet');
  t.equal(status.last_reload_error, null);
  t.match(status.configuration_loaded_at, /^\d{4}-\d\d-\d\dT/);

  const head = await send('/', 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body, '');
});

t.test('lists in Kong shape, for every entity', async (t) => {
  const expected: Record<string, number> = { services: 2, routes: 3, consumers: 5, plugins: 4, 'key-auths': 2, 'basic-auths': 1, acls: 3 };
  for (const [path, n] of Object.entries(expected)) {
    const list = await json(`/${path}`);
    t.equal(list.data.length, n, `/${path}`);
    t.equal(list.next, null);
    t.notOk('offset' in list);
  }
  const routes = (await json('/routes')).data;
  t.match(routes.find((r: any) => r.name === 'route-1'), {
    id: /^[0-9a-f-]{36}$/,
    service: { id: await idOf('/services/svc-1') },
    paths: ['/one'],
    protocols: ['http', 'https'],
    strip_path: true,
    hosts: null,
  });
  t.equal(routes.find((r: any) => r.name === 'lonely').service, null);
  const plugins = (await json('/plugins')).data;
  t.match(plugins.find((p: any) => p.instance_name === 'rt-route'), {
    name: 'request-termination',
    route: { id: await idOf('/routes/route-1') },
    service: null,
    consumer: null,
    config: { status_code: 200, body: 'one', echo: false },
    enabled: true,
  });
  t.same((await json('/key-auths')).data.map((k: any) => k.key).sort(), ['alice-key', 'bob-key'], 'with --admin-show-secrets, key-auth keys are shown, as in Kong OSS');
});

t.test('paging: size, offset, next, and bad values', async (t) => {
  const all = (await json('/consumers')).data.map((c: any) => c.username);
  const first = await json('/consumers?size=2');
  t.same(first.data.map((c: any) => c.username), all.slice(0, 2));
  t.type(first.offset, 'string');
  t.equal(first.next, `/consumers?offset=${encodeURIComponent(first.offset)}&size=2`);
  const second = await json(first.next);
  t.same(second.data.map((c: any) => c.username), all.slice(2, 4));
  const third = await json(second.next);
  t.same(third.data.map((c: any) => c.username), all.slice(4));
  t.equal(third.next, null);
  t.notOk('offset' in third);

  const nested = await json(`/consumers/alice/acls?size=1`);
  t.equal(nested.data.length, 1);
  t.match(nested.next, /^\/consumers\/alice\/acls\?offset=.+&size=1$/);
  t.equal((await json(nested.next)).data.length, 1);

  const badOffset = await send('/routes?offset=x');
  t.equal(badOffset.status, 400);
  t.same(badOffset.json(), { code: 7, name: 'invalid offset', message: "'x' is not a valid offset: bad base64 encoding" });
  const potato = await send('/routes?offset=%7Cpotato%7C');
  t.equal(potato.status, 400);
  t.match(potato.json(), { code: 7, name: 'invalid offset' });
  for (const size of ['0', '1001', '1.5', '-1']) {
    const r = await send(`/routes?size=${size}`);
    t.equal(r.status, 400, `size=${size}`);
    t.same(r.json(), { code: 9, name: 'invalid size', message: 'size must be an integer between 1 and 1000' });
  }
  t.same((await send('/routes?size=abc')).json(), { code: 9, name: 'invalid size', message: 'size must be a number' });
});

t.test('items by id or endpoint key, and 404s', async (t) => {
  const svc = await json('/services/svc-1');
  t.match(svc, { name: 'svc-1', protocol: 'http', host: '127.0.0.1', port: 9, path: '/', retries: 5, enabled: true });
  t.same(await json(`/services/${svc.id}`), svc, 'by id and by name: the same entity');
  t.equal((await json('/routes/lonely')).name, 'lonely');
  const alice = await json('/consumers/alice');
  t.same(alice, { id: alice.id, username: 'alice', custom_id: 'alice-1', tags: null });
  t.same(await json(`/consumers/${alice.id}`), alice);
  t.same(await json('/consumers?custom_id=alice-1'), { data: [alice], next: null });
  t.same(await json('/consumers?custom_id=nobody'), { data: [], next: null });
  const rt = await json('/plugins/rt-route');
  t.same(await json(`/plugins/${rt.id}`), rt);
  const key = await json('/key-auths/alice-key');
  t.match(key, { key: 'alice-key', consumer: { id: alice.id }, ttl: null });
  t.same(await json(`/key-auths/${key.id}`), key);
  t.equal((await json('/basic-auths/alice')).username, 'alice');
  const acl = (await json('/acls')).data[0];
  t.same(await json(`/acls/${acl.id}`), acl);

  for (const path of ['/services/nope', '/routes/nope', '/consumers/nope', '/plugins/nope', '/key-auths/nope', '/basic-auths/nope', '/acls/admins', '/nothing', '/services/svc-1/nothing']) {
    const r = await send(path);
    t.equal(r.status, 404, path);
    t.same(r.json(), { message: 'Not found' }, path);
  }
});

t.test('nested lists, nested items and foreign entities', async (t) => {
  const names = async (path: string) => (await json(path)).data.map((e: any) => e.name ?? e.group ?? e.key ?? e.username);
  t.same(await names('/services/svc-1/routes'), ['route-1', 'route-2']);
  t.same(await names('/services/svc-2/routes'), []);
  t.same((await json('/services/svc-1/plugins')).data.map((p: any) => p.config.status_code), [503]);
  t.same((await json('/routes/route-1/plugins')).data.map((p: any) => p.instance_name), ['rt-route']);
  t.same((await json('/consumers/alice/plugins')).data.map((p: any) => p.config.status_code), [403]);
  t.same(await names('/consumers/alice/key-auth'), ['alice-key']);
  t.same(await names('/consumers/bob/key-auth'), ['bob-key']);
  t.same(await names('/consumers/alice/basic-auth'), ['alice']);
  t.same(await names('/consumers/bob/basic-auth'), []);
  t.same(await names('/consumers/alice/acls'), ['admins', 'staff']);

  t.equal((await json('/services/svc-1/routes/route-2')).name, 'route-2');
  t.equal((await json('/consumers/alice/acls/staff')).group, 'staff', 'an acl by group under its consumer');
  t.equal((await json('/consumers/bob/acls/staff')).consumer.id, await idOf('/consumers/bob'));
  const aliceKey = await json('/key-auths/alice-key');
  t.same(await json(`/consumers/alice/key-auth/${aliceKey.id}`), aliceKey);
  t.equal((await send(`/consumers/bob/key-auth/${aliceKey.id}`)).status, 404, "another consumer's credential");
  t.equal((await send('/services/svc-2/routes/route-1')).status, 404, "another service's route");
  t.equal((await send('/consumers/carol/acls/staff')).status, 404);

  t.equal((await json('/routes/route-1/service')).name, 'svc-1');
  t.equal((await send('/routes/lonely/service')).status, 404, 'a route without a service');
  t.equal((await json('/key-auths/bob-key/consumer')).username, 'bob');
  t.equal((await json('/basic-auths/alice/consumer')).username, 'alice');
  const acl = (await json('/consumers/bob/acls')).data[0];
  t.equal((await json(`/acls/${acl.id}/consumer`)).username, 'bob');
  t.equal((await json('/plugins/rt-route/route')).name, 'route-1');

  for (const path of ['/services/nope/routes', '/consumers/nope/key-auth', '/consumers/nope/plugins', '/routes/nope/service', '/key-auths/nope/consumer']) {
    t.equal((await send(path)).status, 404, path);
  }
});

t.test('basic-auth passwords are never returned in plaintext', async (t) => {
  const cred = await json('/basic-auths/alice');
  t.not(cred.password, 'alice-password');
  t.ok(bcrypt.compareSync('alice-password', cred.password), 'the bcrypt hash of the password');
  t.match(cred.password, /^\$2b\$04\$/, 'the hash it is verified against: a plaintext password is hashed at load at cost 4');
  t.equal((await json('/consumers/alice/basic-auth')).data[0].password, cred.password);
  t.match((await json('/config')).config, `password: ${cred.password}`, 'and exported as such');
  for (const path of ['/basic-auths', '/consumers/alice/basic-auth', '/config', '/basic-auths/alice']) {
    t.notMatch((await send(path)).body, /alice-password/, path);
  }
});

t.test('plugin catalogue and schemas', async (t) => {
  const enabled = (await json('/plugins/enabled')).enabled_plugins;
  t.same(enabled, [...PLUGINS.keys()].sort(), 'every plugin the gateway implements, sorted');
  t.ok(enabled.includes('key-auth') && enabled.includes('cors'));
  t.match(await json('/schemas/plugins/request-termination'), { type: 'object', properties: { status_code: { default: 503 } } });
  const missing = await send('/schemas/plugins/nope');
  t.equal(missing.status, 404);
  t.same(missing.json(), { message: "No plugin named 'nope'" });
});

t.test('write methods answer as DB-less Kong does', async (t) => {
  const refused = (message: string) => ({ code: 12, name: 'operation unsupported', message });
  const routeId = await idOf('/routes/route-1');
  const serviceId = await idOf('/services/svc-1');
  const cases: Array<[string, string, number, object]> = [
    ['POST', '/services', 405, refused("cannot create 'services' entities when not using a database")],
    ['POST', '/routes', 405, refused("cannot create 'routes' entities when not using a database")],
    ['POST', '/key-auths', 405, refused("cannot create 'keyauth_credentials' entities when not using a database")],
    ['POST', '/services/svc-1/routes', 405, refused("cannot create 'routes' entities when not using a database")],
    ['POST', '/consumers/alice/key-auth', 405, refused("cannot create 'keyauth_credentials' entities when not using a database")],
    ['POST', '/consumers/alice/acls', 405, refused("cannot create 'acls' entities when not using a database")],
    ['POST', '/consumers/nope/acls', 404, { message: 'Not found' }],
    ['PUT', `/routes/${routeId}`, 405, refused("cannot create or update 'routes' entities when not using a database")],
    ['PUT', '/routes/route-1', 405, refused("cannot create or update 'routes' entities by 'name' when not using a database")],
    ['PUT', '/routes/not-there-yet', 405, refused("cannot create or update 'routes' entities by 'name' when not using a database")],
    ['PATCH', `/services/${serviceId}`, 405, refused("cannot update 'services' entities when not using a database")],
    ['PATCH', '/services/svc-1', 405, refused("cannot update 'services' entities by 'name' when not using a database")],
    ['PATCH', '/services/nope', 404, { message: 'Not found' }],
    ['DELETE', '/consumers/alice', 405, refused("cannot remove 'consumers' entities by 'username' when not using a database")],
    ['DELETE', '/key-auths/alice-key', 405, refused("cannot remove 'keyauth_credentials' entities by 'key' when not using a database")],
    ['DELETE', '/consumers/alice/acls/staff', 405, refused("cannot remove 'acls' entities when not using a database")],
    ['DELETE', '/consumers/nope', 404, { message: 'Not found' }],
    ['PATCH', '/routes/route-1/service', 405, refused("cannot update 'services' entities when not using a database")],
  ];
  for (const [method, path, status, body] of cases) {
    const r = await send(path, method, '{"name":"x"}');
    t.equal(r.status, status, `${method} ${path}`);
    t.same(r.json(), body, `${method} ${path}`);
  }
  for (const [method, path] of [
    ['DELETE', '/routes'],
    ['PUT', '/routes'],
    ['PATCH', '/routes'],
    ['POST', `/routes/${routeId}`],
    ['POST', '/'],
    ['DELETE', '/status'],
    ['PUT', '/config'],
    ['POST', '/plugins/enabled'],
    ['DELETE', '/routes/route-1/service'],
  ]) {
    const r = await send(path, method);
    t.equal(r.status, 405, `${method} ${path}`);
    t.same(r.json(), { message: 'Method not allowed' }, `${method} ${path}`);
  }
  t.equal((await request(gw.proxyPort, '/one')).body, 'one', 'nothing changed');
});
