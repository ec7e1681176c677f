// ldap-auth against a real OpenLDAP slapd (test/helpers/ldap.ts): Kong's spec cases, the directory down or slow,
// TLS, the bind cache, and the AND / OR flow with key-auth.
import t from 'tap';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { runCli, startGateway, tempFile, type RunningGateway } from '../helpers/cli';
import { errorsOf, snapshotOf, yaml } from '../helpers/config';
import { deadPort, eventually, startTcpServer, type TcpServer } from '../helpers/raw';
import { waitFor, count } from '../helpers/wait';
import { startLdap, BASE_DN, type LdapServer } from '../helpers/ldap';

const GUEST_ID = '6f0c2a1e-3b7d-4c55-9e1f-2a8b7c6d5e40';
const MICKEY_KEY_ID = '1d3e5f70-9a2b-4c4d-8e6f-0a1b2c3d4e5f';
const PASSWORDS = { einstein: 'password', newton: 'apple', curie: 'radium', hopper: 'cobol' };

const ldapAuth = (user: string, password: string, scheme = 'ldap') => `${scheme} ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let dir: LdapServer;
let upstream: Upstream;
let gw: RunningGateway;
let silent: TcpServer;
let relay: Relay;
let plainRelay: Relay;

/** A TCP relay to the directory that keeps every byte the gateway sent through it. */
interface Relay {
  port: number;
  /** Connections the gateway opened so far, and how many are open now. */
  connections: number;
  open: number;
  sent(): string;
  close(): Promise<void>;
}

function startRelay(target: number): Promise<Relay> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const counts = { connections: 0, open: 0 };
  const server: Server = createServer((client) => {
    counts.connections++;
    counts.open++;
    client.on('close', () => counts.open--);
    const out = connect(target, '127.0.0.1');
    // Either side closing closes the other, as a direct connection would be.
    for (const [s, other] of [[client, out], [out, client]]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        other.destroy();
      });
    }
    client.on('data', (d: Buffer) => chunks.push(d));
    client.pipe(out).pipe(client);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        get connections() {
          return counts.connections;
        },
        get open() {
          return counts.open;
        },
        sent: () => Buffer.concat(chunks).toString('latin1'),
        close: () => new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
      }),
    ),
  );
}

/** A config file of service-less routes, each at /<name> with its plugins. */
const routesFile = (...routes: Array<[string, string]>) =>
  tempFile('kong.yml', yaml('_format_version: "3.0"', 'routes:', ...routes.flatMap(([name, plugins]) => [`  - name: ${name}`, `    paths: [/${name}]`, `    plugins: [${plugins}]`])));

const plugin = (port: number, extra = '') =>
  `{name: ldap-auth, config: {ldap_host: 127.0.0.1, ldap_port: ${port}, base_dn: '${BASE_DN}', attribute: uid${extra}}}`;

function config(ports: { ldap: number; ldaps: number; down: number; slow: number; relay: number; plainRelay: number }): string {
  const route = (name: string, plugins: string) => [`      - name: ${name}`, `        paths: [/${name}]`, `        plugins: [${plugins}]`];
  const ldap = (extra = '') => plugin(ports.ldap, extra);
  return yaml(
    '_format_version: "3.0"',
    'services:',
    '  - name: up',
    `    url: http://127.0.0.1:${upstream.port}`,
    '    routes:',
    ...route('ldap', ldap()),
    ...route('hide', ldap(', hide_credentials: true, realm: test-ldap')),
    ...route('anon', ldap(`, anonymous: ${GUEST_ID}`)),
    ...route('anon-name', ldap(', anonymous: no-body')),
    ...route('basic-type', ldap(', header_type: Basic')),
    ...route('basic-realm', ldap(', header_type: Basic, realm: test-ldap')),
    ...route('short-ttl', ldap(', cache_ttl: 3')),
    ...route('acl', `${ldap()}, {name: acl, config: {allow: [scientists]}}`),
    ...route('starttls', plugin(ports.relay, ', start_tls: true, verify_ldap_host: true')),
    ...route('keepalive', plugin(ports.plainRelay, ', keepalive: 2000')),
    ...route('ldaps', plugin(ports.ldaps, ', ldaps: true, verify_ldap_host: true')),
    ...route('down', plugin(ports.down)),
    ...route('slow', plugin(ports.slow, ', timeout: 1500')),
    ...route('slow-crowd', plugin(ports.slow, ', timeout: 3000')),
    ...route('logical-and', `${ldap()}, {name: key-auth}`),
    ...route('logical-or', `${ldap(', anonymous: no-body')}, {name: key-auth, config: {anonymous: no-body}}`),
    ...route('or-down', `${plugin(ports.down, ', anonymous: no-body')}, {name: key-auth, config: {anonymous: no-body}}`),
    '  - name: other',
    `    url: http://127.0.0.1:${upstream.port}`,
    '    routes: [{name: open, paths: [/open]}]',
    'consumers:',
    `  - {id: ${GUEST_ID}, username: no-body}`,
    '  - username: Mickey',
    `    keyauth_credentials: [{id: ${MICKEY_KEY_ID}, key: Mouse}]`,
  );
}

t.before(async () => {
  dir = await startLdap(PASSWORDS, { tls: true });
  upstream = await startUpstream();
  silent = await startTcpServer(() => {}); // accepts, never answers
  relay = await startRelay(dir.port);
  plainRelay = await startRelay(dir.port);
  const text = config({ ldap: dir.port, ldaps: dir.tlsPort!, down: await deadPort(), slow: silent.port, relay: relay.port, plainRelay: plainRelay.port });
  gw = await startGateway(text, { env: { ...process.env, NODE_EXTRA_CA_CERTS: dir.caFile } });
});
t.teardown(async () => {
  await gw?.stop();
  await Promise.all([upstream?.close(), silent?.close(), relay?.close(), plainRelay?.close()]);
  await dir?.stop();
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => request(gw.proxyPort, path, { method, headers });
const seen = () => upstream.seen[upstream.seen.length - 1];

t.test('spec/03-plugins/20-ldap-auth/01-access_spec.lua: missing or malformed credentials get 401 Unauthorized and the LDAP challenge', async (t) => {
  const before = upstream.seen.length;
  const cases: Array<Record<string, string>> = [
    {},
    { authorization: 'abcd' },
    { 'proxy-authorization': 'abcd' },
    { authorization: 'ldap ' },
    { authorization: ldapAuth('einstein', 'password', 'invalidldap') },
    { authorization: ldapAuth('einstein', '') },
    { authorization: ldapAuth('', 'password') },
    { authorization: 'ldap !!!not-base64' },
  ];
  for (const headers of cases) {
    const r = await get('/ldap', headers);
    t.equal(r.status, 401, JSON.stringify(headers));
    t.equal(r.json().message, 'Unauthorized');
    t.equal(r.headers['www-authenticate'], 'LDAP');
  }
  t.equal(upstream.seen.length, before, 'nothing reached the service');
});

t.test('spec/03-plugins/20-ldap-auth/01-access_spec.lua: a good bind passes; the credential identifier is the username, no consumer', async (t) => {
  for (const [method, value] of [['GET', ldapAuth('einstein', 'password')], ['POST', ldapAuth('einstein', 'password')], ['GET', ` ${ldapAuth('einstein', 'password')}`], ['GET', ldapAuth('einstein', 'password', 'LDAP')]]) {
    const r = await get('/ldap', { authorization: value, 'x-consumer-id': 'forged', 'x-consumer-username': 'forged', 'x-anonymous-consumer': 'true' }, method);
    t.equal(r.status, 200, `${method} ${JSON.stringify(value)}`);
    const h = seen().headers;
    t.equal(h['x-credential-identifier'], 'einstein');
    t.equal(h['x-consumer-id'], undefined, "no consumer, and the client's copy is gone");
    t.equal(h['x-consumer-username'], undefined);
    t.equal(h['x-anonymous-consumer'], undefined);
    t.equal(h.authorization, value.trim(), 'kept without hide_credentials');
  }
});

t.test('spec/03-plugins/20-ldap-auth/01-access_spec.lua: a bad password, an unknown user, a very long password, a second ":" are refused', async (t) => {
  const cases = [['einstein', 'wrong_password'], ['nobody', 'password'], ['einstein', 'e0d91f53c566'.repeat(16)], ['einstein', 'password:another_password']];
  for (const [user, password] of cases) {
    const r = await get('/ldap', { authorization: ldapAuth(user, password) });
    t.equal(r.status, 401, `${user}:${password}`);
    t.equal(r.json().message, 'Unauthorized');
    t.equal(r.headers['www-authenticate'], 'LDAP');
  }
});

t.test('spec/03-plugins/20-ldap-auth/01-access_spec.lua: a username cannot reach outside base_dn: it is one escaped RDN value', async (t) => {
  // Without escaping, "einstein,ou=x" would name another entry; escaped it names none, so the bind fails.
  for (const user of ['einstein,ou=scientists', 'einstein+cn=einstein', 'uid=einstein']) {
    t.equal((await get('/ldap', { authorization: ldapAuth(user, 'password') })).status, 401, user);
  }
});

t.test('spec/03-plugins/20-ldap-auth/01-access_spec.lua: Proxy-Authorization is tried first, then Authorization', async (t) => {
  let r = await get('/ldap', { 'proxy-authorization': ldapAuth('einstein', 'password') });
  t.equal(r.status, 200);
  r = await get('/ldap', { 'proxy-authorization': ldapAuth('einstein', 'wrong'), authorization: ldapAuth('curie', 'radium') });
  t.equal(r.status, 200);
  t.equal(seen().headers['x-credential-identifier'], 'curie');
  r = await get('/ldap', { 'proxy-authorization': ldapAuth('curie', 'radium'), authorization: ldapAuth('einstein', 'password') });
  t.equal(r.status, 200);
  t.equal(seen().headers['x-credential-identifier'], 'curie');
});

t.test('spec/03-plugins/20-ldap-auth/01-access_spec.lua: hide_credentials removes both headers; realm goes in the challenge', async (t) => {
  let r = await get('/hide', { authorization: ldapAuth('einstein', 'password'), 'proxy-authorization': ldapAuth('einstein', 'wrong') });
  t.equal(r.status, 200);
  t.equal(seen().headers.authorization, undefined);
  t.equal(seen().headers['proxy-authorization'], undefined);
  r = await get('/hide', { authorization: ldapAuth('einstein', 'wrong_password') });
  t.equal(r.status, 401);
  t.equal(r.headers['www-authenticate'], 'LDAP realm="test-ldap"');
});

t.test('spec/03-plugins/20-ldap-auth/01-access_spec.lua: header_type sets the scheme read and the one challenged with', async (t) => {
  t.equal((await get('/basic-type', { authorization: ldapAuth('einstein', 'password', 'basic') })).status, 200);
  let r = await get('/basic-type');
  t.equal(r.status, 401);
  t.equal(r.headers['www-authenticate'], 'Basic');
  t.equal(r.json().message, 'Unauthorized');
  r = await get('/basic-type', { authorization: ldapAuth('einstein', 'password', 'invalidldap') });
  t.equal(r.status, 401);
  t.equal(r.headers['www-authenticate'], 'Basic');
  t.equal((await get('/basic-type', { authorization: ldapAuth('einstein', 'password') })).status, 401, 'the ldap scheme is not read any more');
  r = await get('/basic-realm');
  t.equal(r.headers['www-authenticate'], 'Basic realm="test-ldap"');
});

t.test('spec/03-plugins/20-ldap-auth/01-access_spec.lua: config.anonymous (by id and by username)', async (t) => {
  let r = await get('/anon', { authorization: ldapAuth('einstein', 'password') });
  t.equal(r.status, 200);
  t.equal(seen().headers['x-credential-identifier'], 'einstein');
  t.equal(seen().headers['x-anonymous-consumer'], undefined);
  for (const [path, headers] of [['/anon', {}], ['/anon', { authorization: ldapAuth('einstein', 'wrong') }], ['/anon-name', {}]] as const) {
    r = await get(path, headers);
    t.equal(r.status, 200, path);
    const h = seen().headers;
    t.equal(h['x-anonymous-consumer'], 'true');
    t.equal(h['x-consumer-username'], 'no-body');
    t.equal(h['x-consumer-id'], GUEST_ID);
    t.equal(h['x-credential-identifier'], undefined);
  }
});

t.test('spec/03-plugins/20-ldap-auth/01-access_spec.lua: multiple auth without anonymous, logical AND (with key-auth)', async (t) => {
  let r = await get('/logical-and', { apikey: 'Mouse', authorization: ldapAuth('einstein', 'password') });
  t.equal(r.status, 200);
  t.equal(seen().headers['x-anonymous-consumer'], undefined);
  // ldap-auth runs after key-auth (1200 < 1250) and, as Kong's, leaves no consumer: the directory's user is the identity.
  t.equal(seen().headers['x-credential-identifier'], 'einstein');
  t.equal(seen().headers['x-consumer-id'], undefined);
  r = await get('/logical-and', { apikey: 'Mouse' });
  t.equal(r.status, 401);
  t.equal(r.headers['www-authenticate'], 'LDAP');
  r = await get('/logical-and', { authorization: ldapAuth('einstein', 'password') });
  t.equal(r.status, 401);
  t.equal(r.headers['www-authenticate'], 'Key');
  r = await get('/logical-and');
  t.equal(r.status, 401);
  t.equal(r.headers['www-authenticate'], 'Key');
});

t.test('spec/03-plugins/20-ldap-auth/01-access_spec.lua: multiple auth with anonymous, logical OR (with key-auth)', async (t) => {
  let r = await get('/logical-or', { apikey: 'Mouse', authorization: ldapAuth('einstein', 'password') });
  t.equal(r.status, 200);
  let h = seen().headers;
  t.equal(h['x-anonymous-consumer'], undefined);
  t.equal(h['x-consumer-username'], 'Mickey', 'key-auth ran first and accepted: ldap-auth is skipped');
  t.equal(h['x-credential-identifier'], MICKEY_KEY_ID);
  r = await get('/logical-or', { apikey: 'Mouse' });
  t.equal(seen().headers['x-credential-identifier'], MICKEY_KEY_ID);
  r = await get('/logical-or', { authorization: ldapAuth('einstein', 'password') });
  t.equal(r.status, 200);
  h = seen().headers;
  t.equal(h['x-credential-identifier'], 'einstein');
  t.equal(h['x-anonymous-consumer'], undefined, "key-auth's anonymous fallback is replaced by the directory's user");
  t.equal(h['x-consumer-id'], undefined);
  r = await get('/logical-or', { apikey: 'nope', authorization: ldapAuth('einstein', 'nope') });
  t.equal(r.status, 200);
  h = seen().headers;
  t.equal(h['x-anonymous-consumer'], 'true');
  t.equal(h['x-consumer-id'], GUEST_ID);
  t.equal(h['x-credential-identifier'], undefined);
});

t.test('kong/plugins/acl/handler.lua: acl refuses a directory user with 403 (no consumer, no groups)', async (t) => {
  const r = await get('/acl', { authorization: ldapAuth('einstein', 'password') });
  t.equal(r.status, 403);
  t.equal(r.json().message, 'You cannot consume this service');
  t.equal((await get('/acl')).status, 401);
});

t.test('kong/plugins/ldap-auth/access.lua: TLS: StartTLS and LDAPS with the certificate verified; no password in clear on the wire', async (t) => {
  for (const [path, user, password] of [['/starttls', 'hopper', 'cobol'], ['/ldaps', 'curie', 'radium']]) {
    t.equal((await get(path, { authorization: ldapAuth(user, password) })).status, 200, path);
    t.equal((await get(path, { authorization: ldapAuth(user, 'wrong') })).status, 401, path);
  }
  t.match(relay.sent(), /1\.3\.6\.1\.4\.1\.1466\.20037/, 'the StartTLS request went through the relay');
  t.notMatch(relay.sent(), /cobol|hopper/, 'the bind went inside TLS');
});

t.test('a StartTLS connection the directory closed is never reused in clear', async (t) => {
  t.equal((await get('/starttls', { authorization: ldapAuth('hopper', 'cobol-2') })).status, 401);
  await dir.restart(); // closes every connection the pool keeps
  const r = await get('/starttls', { authorization: ldapAuth('hopper', 'cobol-3') });
  t.equal(r.status, 401, 'a fresh connection, with its own StartTLS, answered');
  t.notMatch(relay.sent(), /cobol-/);
  t.equal((await get('/ldap', { authorization: ldapAuth('newton', 'apple') })).status, 200, 'the plain pool recovered too');
});

t.test('kong/plugins/ldap-auth/access.lua: one connection serves bind after bind, and closes once idle for `keepalive` ms', async (t) => {
  for (let i = 0; i < 5; i++) t.equal((await get('/keepalive', { authorization: ldapAuth('einstein', `guess-${i}`) })).status, 401);
  t.equal((await get('/keepalive', { authorization: ldapAuth('einstein', 'password') })).status, 200);
  t.equal(plainRelay.connections, 1, 'six binds, one connection');
  t.ok(await eventually(() => plainRelay.open === 0, 10_000), 'closed when idle');
  t.equal((await get('/keepalive', { authorization: ldapAuth('curie', 'radium') })).status, 200, 'a new one made when needed');
  t.equal(plainRelay.connections, 2);
});

t.test('kong/plugins/ldap-auth/access.lua: a directory that is down answers 500, in AND and in OR mode', async (t) => {
  for (const path of ['/down', '/or-down']) {
    const r = await get(path, { authorization: ldapAuth('einstein', 'password') });
    t.equal(r.status, 500, path);
    t.equal(r.json().message, 'An unexpected error occurred');
    t.equal(r.headers['www-authenticate'], undefined);
  }
  t.equal((await get('/or-down')).status, 200, 'without credentials, nothing to check: the anonymous consumer');
  t.equal(seen().headers['x-anonymous-consumer'], 'true');
  t.equal((await get('/or-down', { apikey: 'Mouse' })).status, 200, 'a credential another plugin accepted needs no directory');
  t.match(gw.logs(), /"msg":"ldap-auth: directory unavailable","directory":"ldap:\/\/127\.0\.0\.1:\d+","error":"connect ECONNREFUSED/);
});

t.test('kong/plugins/ldap-auth/access.lua: a directory that never answers gets 500 after `timeout`, and blocks no other route', async (t) => {
  const order: string[] = [];
  const slow = get('/slow', { authorization: ldapAuth('einstein', 'password') }).then((r) => (order.push('slow'), r));
  await eventually(() => silent.connections > 0);
  const open = await get('/open');
  order.push('open');
  const other = await get('/ldap', { authorization: ldapAuth('einstein', 'password') });
  order.push('ldap');
  t.equal(open.status, 200);
  t.equal(other.status, 200);
  const r = await slow;
  t.equal(r.status, 500);
  t.equal(r.json().message, 'An unexpected error occurred');
  t.same(order, ['open', 'ldap', 'slow'], 'the other routes answered while the bind waited');
  t.match(gw.logs(), /"error":"no answer within 1500 ms"/);
});

t.test('a directory that never answers gets at most 32 connections, however many requests wait for it', async (t) => {
  const before = silent.connections;
  const pending = Promise.all(Array.from({ length: 40 }, (_, i) => get('/slow-crowd', { authorization: ldapAuth(`user${i}`, 'password') })));
  t.ok(await eventually(() => silent.connections - before >= 32), '32 connections');
  await sleep(300); // the other 8 wait for a place (until their 3 s timeout), they open nothing
  t.equal(silent.connections - before, 32);
  const replies = await pending;
  t.same(new Set(replies.map((r) => r.status)), new Set([500]), 'every one answered 500 at its timeout');
});

t.test('spec/03-plugins/20-ldap-auth/02-invalidations_spec.lua: binds are cached for cache_ttl, good and bad; a password change is seen after it', async (t) => {
  t.equal((await get('/short-ttl', { authorization: ldapAuth('newton', 'apple') })).status, 200);
  t.equal((await get('/short-ttl', { authorization: ldapAuth('newton', 'pear') })).status, 401);
  dir.setPassword('newton', 'pear');
  t.equal((await get('/short-ttl', { authorization: ldapAuth('newton', 'apple') })).status, 200, 'the old password, still remembered');
  t.equal((await get('/short-ttl', { authorization: ldapAuth('newton', 'pear') })).status, 401, 'the refusal, still remembered');
  // Each entry lives cache_ttl from its own bind: 'apple' was remembered first, so it is forgotten first.
  t.ok(await eventually(async () => (await get('/short-ttl', { authorization: ldapAuth('newton', 'pear') })).status === 200, 10_000, 200), 'the new password accepted once the ttl passed');
  t.equal((await get('/short-ttl', { authorization: ldapAuth('newton', 'apple') })).status, 401, 'the old one refused');
});

t.test('a cached bind needs no directory; a reload forgets every cached bind', async (t) => {
  t.equal((await get('/ldap', { authorization: ldapAuth('curie', 'radium') })).status, 200);
  await dir.kill();
  t.equal((await get('/ldap', { authorization: ldapAuth('curie', 'radium') })).status, 200, 'served from the cache');
  t.equal((await get('/ldap', { authorization: ldapAuth('curie', 'other') })).status, 500, 'an unknown pair needs the directory');
  await dir.restart();
  dir.setPassword('curie', 'polonium');
  t.equal((await get('/ldap', { authorization: ldapAuth('curie', 'radium') })).status, 200, 'default cache_ttl: 60 s');
  const reloads = count(gw.logs(), /"msg":"config reloaded"/);
  gw.proc.kill('SIGHUP');
  await waitFor('the reload', () => count(gw.logs(), /"msg":"config reloaded"/) > reloads || undefined);
  t.equal((await get('/ldap', { authorization: ldapAuth('curie', 'radium') })).status, 401);
  t.equal((await get('/ldap', { authorization: ldapAuth('curie', 'polonium') })).status, 200);
});

t.test('no password, nor the header that carries it, in any log line', async (t) => {
  const everything = gw.logs() + gw.output();
  for (const secret of [...Object.values(PASSWORDS), 'pear', 'polonium', 'wrong_password', Buffer.from('einstein:password').toString('base64')]) {
    t.notOk(everything.includes(secret), secret);
  }
});

t.test('verify_ldap_host: a certificate the gateway does not trust is a 500 (the directory is not trusted), not a refused login', async (t) => {
  const answer = '{name: request-termination, config: {status_code: 200, message: in}}';
  const file = routesFile(
    ['verified', `${plugin(dir.tlsPort!, ', ldaps: true, verify_ldap_host: true')}, ${answer}`],
    ['unverified', `${plugin(dir.port, ', start_tls: true')}, ${answer}`],
  );
  const plain = await startGateway('', { file });
  t.teardown(() => plain.stop());
  const r = await request(plain.proxyPort, '/verified', { headers: { authorization: ldapAuth('einstein', 'password') } });
  t.equal(r.status, 500);
  t.match(plain.logs(), /"directory":"ldaps:\/\/127\.0\.0\.1:\d+","error":"[^"]*certificate/);
  t.equal((await request(plain.proxyPort, '/unverified', { headers: { authorization: ldapAuth('einstein', 'password') } })).status, 200, 'verify_ldap_host false: encrypted, unverified');
});

t.test('gateway explain: says which DN it would bind as, contacts no directory, shows no password', async (t) => {
  const file = routesFile(['staff', plugin(silent.port, ', start_tls: true')]);
  const before = silent.connections;
  const r = runCli(['explain', '-c', file, '-H', `Authorization: ${ldapAuth('einstein', 's3cret-pw')}`, 'http://localhost/staff']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, `would bind as uid=einstein,${BASE_DN} at ldap://127.0.0.1:${silent.port} with StartTLS (not contacted: taken as accepted): authenticated einstein (no consumer)`);
  t.notMatch(r.stdout, /s3cret-pw/);
  t.notMatch(r.stdout, Buffer.from('einstein:s3cret-pw').toString('base64'));
  t.equal(silent.connections, before, 'no connection to the directory');
  const none = runCli(['explain', '-c', file, 'http://localhost/staff']);
  t.match(none.stdout, /answered 401/);
});

t.test('gateway routes: ldap-auth alone, AND and OR', async (t) => {
  const file = tempFile('kong.yml', config({ ldap: 389, ldaps: 636, down: 1, slow: 2, relay: 3, plainRelay: 4 }));
  const rows = JSON.parse(runCli(['routes', '-c', file, '--format', 'json']).stdout) as Array<{ name: string; auth: { mode: string; plugins: string[] } }>;
  const auth = (name: string) => rows.find((r) => r.name === name)!.auth;
  t.same(auth('ldap'), { mode: 'ldap', plugins: ['ldap-auth'], anonymous: null });
  t.same(auth('logical-and'), { mode: 'AND', plugins: ['key-auth', 'ldap-auth'], anonymous: null });
  t.same(auth('logical-or'), { mode: 'OR+anon', plugins: ['key-auth', 'ldap-auth'], anonymous: 'no-body' });
});

t.test('spec/03-plugins/20-ldap-auth/02-schema_spec.lua: defaults, and errors at their field', async (t) => {
  const conf = (config: string) => yaml('_format_version: "3.0"', 'routes:', '  - name: r', '    paths: [/r]', `    plugins: [{name: ldap-auth, config: ${config}}]`);
  const snapshot = snapshotOf(conf(`{ldap_host: example.com, base_dn: 'dc=example,dc=com', attribute: cn}`));
  t.same(snapshot.entities.plugins[0].config, {
    ldap_host: 'example.com', ldap_port: 389, ldaps: false, start_tls: false, verify_ldap_host: false, base_dn: 'dc=example,dc=com', attribute: 'cn',
    cache_ttl: 60, hide_credentials: false, timeout: 10000, keepalive: 60000, header_type: 'ldap',
  });
  t.same(errorsOf(conf(`{ldap_host: none, ldap_port: 389, ldaps: true, start_tls: true, base_dn: ou=users, attribute: cn}`)), [
    "kong.yml:5:99: routes[0].plugins[0].config.start_tls: 'ldaps' and 'start_tls' cannot be enabled simultaneously",
  ]);
  t.match(errorsOf(conf('{base_dn: ou=users, attribute: cn}')).join('\n'), /config\.ldap_host: required field missing/);
  t.match(errorsOf(conf("{ldap_host: h, base_dn: ou=users, attribute: 'cn,ou=x'}")).join('\n'), /config\.attribute: invalid value 'cn,ou=x': must be an attribute type/);
  t.match(errorsOf(conf("{ldap_host: h, base_dn: ou=users, attribute: cn, header_type: 'x y'}")).join('\n'), /config\.header_type: invalid value 'x y': must be an authorization scheme/);
  t.match(errorsOf(conf('{ldap_host: h, base_dn: ou=users, attribute: cn, cache_ttl: 0}')).join('\n'), /config\.cache_ttl: value must be greater than 0/);
  t.match(errorsOf(conf('{ldap_host: h, base_dn: ou=users, attribute: cn, anonymous: ghost}')).join('\n'), /config\.anonymous: anonymous consumer 'ghost' does not exist/);
  const mixed = yaml(
    '_format_version: "3.0"',
    'consumers: [{username: anon}]',
    'routes:',
    '  - name: r',
    '    paths: [/r]',
    '    plugins: [{name: ldap-auth, config: {ldap_host: h, base_dn: ou=users, attribute: cn, anonymous: anon}}, {name: key-auth}]',
  );
  t.match(errorsOf(mixed).join('\n'), /config\.anonymous: auth plugins on route 'r' mix anonymous and non-anonymous/);
  const ldaps389 = tempFile('kong.yml', conf('{ldap_host: h, base_dn: ou=users, attribute: cn, ldaps: true}'));
  t.match(runCli(['validate', ldaps389]).stderr, 'warning: routes[0].plugins[0].config.ldap_port: ldaps on port 389, the plain LDAP port: LDAPS is usually on 636');
  const scoped = yaml('_format_version: "3.0"', 'consumers:', '  - username: c', "    plugins: [{name: ldap-auth, config: {ldap_host: h, base_dn: ou=users, attribute: cn}}]");
  t.match(errorsOf(scoped).join('\n'), /'ldap-auth' identifies consumers, so it cannot be scoped to one/);
});
