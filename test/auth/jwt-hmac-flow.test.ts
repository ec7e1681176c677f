import t from 'tap';
import { request } from '../helpers/http';
import { runCli, startGateway, tempFile, type RunningGateway } from '../helpers/cli';
import { errorsOf, yaml } from '../helpers/config';
import { basic } from '../helpers/auth';
import { startUpstream, type Upstream } from '../helpers/http';
import { hmacAuthorization, httpDate, now, signJwt } from '../helpers/tokens';

// jwt and hmac-auth in the AND / OR / anonymous flow: Kong's "multiple auth" cases of
// spec/03-plugins/16-jwt/03-access_spec.lua and spec/03-plugins/19-hmac-auth/03-access_spec.lua.
const ANONYMOUS = '2d6f8a1c-3e5b-4c7d-9f0a-1b2c3d4e5f60';
const JWT_SECRET = 'aladdin-jwt-secret-5c2e8f1a9b7d';
const HMAC_SECRET = 'jasmine-hmac-secret-1a7c3e9b5d2f';
const token = (extra: object = {}) => signJwt({ iss: 'aladdin-key', exp: now() + 3600, ...extra }, JWT_SECRET);
const jwtAuth = () => ({ authorization: `Bearer ${token()}` });
const hmacAuth = (header = 'authorization') => {
  const date = httpDate();
  return { date, [header]: hmacAuthorization('jasmine', HMAC_SECRET, ['date'], [`date: ${date}`]) };
};

let upstream: Upstream;
let gw: RunningGateway;
let file: string;
const seen = () => upstream.seen[upstream.seen.length - 1].headers;
const send = (path: string, headers: Record<string, string> = {}) => request(gw.proxyPort, path, { headers });

function config(): string {
  const anon = `anonymous: ${ANONYMOUS}`;
  return yaml(
    '_format_version: "3.0"',
    'services:',
    '  - name: up',
    `    url: http://127.0.0.1:${upstream.port}`,
    '    routes:',
    '      - name: jwt-and-key',
    '        paths: [/jwt-and-key]',
    '        plugins: [{name: jwt}, {name: key-auth}]',
    '      - name: jwt-or-key',
    '        paths: [/jwt-or-key]',
    '        plugins: [{name: jwt, config: {anonymous: guest}}, {name: key-auth, config: {anonymous: guest}}]',
    '      - name: hmac-and-key',
    '        paths: [/hmac-and-key]',
    '        plugins: [{name: hmac-auth}, {name: key-auth}]',
    '      - name: four-ways',
    '        paths: [/four-ways]',
    '        plugins:',
    `          - {name: key-auth, config: {hide_credentials: true, ${anon}}}`,
    `          - {name: basic-auth, config: {hide_credentials: true, ${anon}}}`,
    `          - {name: jwt, config: {claims_to_verify: [exp], ${anon}}}`,
    `          - {name: hmac-auth, config: {hide_credentials: true, ${anon}}}`,
    '      - name: acl',
    '        paths: [/acl]',
    `        plugins: [{name: jwt, config: {${anon}}}, {name: hmac-auth, config: {${anon}}}, {name: acl, config: {allow: [lamp]}}]`,
    'consumers:',
    `  - username: anonymous`,
    `    id: ${ANONYMOUS}`,
    '    plugins:',
    '      - {name: request-termination, config: {status_code: 401, content_type: "application/json; charset=utf-8", body: "{\\"error\\": \\"Authentication required\\"}"}}',
    '  - username: Mickey',
    '    keyauth_credentials: [{key: Mouse-3f1e7c9a5b2d}]',
    '  - username: Aladdin',
    '    acls: [{group: lamp}]',
    `    jwt_secrets: [{key: aladdin-key, secret: ${JWT_SECRET}}]`,
    '  - username: Jasmine',
    `    hmacauth_credentials: [{username: jasmine, secret: ${HMAC_SECRET}}]`,
    '  - username: Medvezhonok',
    '    basicauth_credentials: [{username: medvezhonok, password: hunter2}]',
    '  - username: guest',
  );
}

t.before(async () => {
  upstream = await startUpstream();
  file = tempFile('kong.yml', config());
  gw = await startGateway('', { file });
});
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
});

t.test('logical AND (spec/03-plugins/16-jwt/03-access_spec.lua: multiple auth without anonymous)', async (t) => {
  t.test('passes with all credentials provided; the last auth plugin to run (key-auth) names the credential', async (t) => {
    t.equal((await send('/jwt-and-key', { ...jwtAuth(), apikey: 'Mouse-3f1e7c9a5b2d' })).status, 200);
    t.equal(seen()['x-anonymous-consumer'], undefined);
    t.equal(seen()['x-consumer-username'], 'Mickey');
    t.match(seen()['x-credential-identifier'], /^[0-9a-f-]{36}$/);
  });
  t.test('fails 401, with only one credential or none; the challenge of the plugin that failed', async (t) => {
    const onlyKey = await send('/jwt-and-key', { apikey: 'Mouse-3f1e7c9a5b2d' });
    t.equal(onlyKey.status, 401);
    t.equal(onlyKey.headers['www-authenticate'], 'Bearer');
    const onlyJwt = await send('/jwt-and-key', jwtAuth());
    t.equal(onlyJwt.status, 401);
    t.equal(onlyJwt.headers['www-authenticate'], 'Key');
    t.equal((await send('/jwt-and-key')).headers['www-authenticate'], 'Bearer');
  });
  t.test('hmac-auth AND key-auth (spec/03-plugins/19-hmac-auth/03-access_spec.lua)', async (t) => {
    t.equal((await send('/hmac-and-key', { ...hmacAuth(), apikey: 'Mouse-3f1e7c9a5b2d' })).status, 200);
    t.equal(seen()['x-credential-identifier'], 'jasmine', 'hmac-auth runs last (priority 1030)');
    t.equal((await send('/hmac-and-key', { apikey: 'Mouse-3f1e7c9a5b2d' })).headers['www-authenticate'], 'hmac');
    t.equal((await send('/hmac-and-key', hmacAuth())).headers['www-authenticate'], 'Key');
    t.equal((await send('/hmac-and-key')).headers['www-authenticate'], 'Key');
  });
});

t.test('logical OR (spec/03-plugins/16-jwt/03-access_spec.lua: multiple auth with anonymous)', async (t) => {
  t.test('passes with all credentials provided; the first auth plugin to run (jwt) names the credential', async (t) => {
    t.equal((await send('/jwt-or-key', { ...jwtAuth(), apikey: 'Mouse-3f1e7c9a5b2d' })).status, 200);
    t.equal(seen()['x-consumer-username'], 'Aladdin');
    t.equal(seen()['x-credential-identifier'], 'aladdin-key');
    t.equal(seen()['x-anonymous-consumer'], undefined);
  });
  t.test('passes with only the first or only the second credential provided', async (t) => {
    t.equal((await send('/jwt-or-key', { apikey: 'Mouse-3f1e7c9a5b2d' })).status, 200);
    t.equal(seen()['x-consumer-username'], 'Mickey');
    t.equal((await send('/jwt-or-key', jwtAuth())).status, 200);
    t.equal(seen()['x-consumer-username'], 'Aladdin');
  });
  t.test('passes with no credential provided, as the anonymous consumer', async (t) => {
    t.equal((await send('/jwt-or-key')).status, 200);
    t.equal(seen()['x-consumer-username'], 'guest');
    t.equal(seen()['x-anonymous-consumer'], 'true');
    t.equal(seen()['x-credential-identifier'], undefined);
  });
});

t.test('the four-way OR route: key-auth OR basic-auth OR jwt OR hmac-auth, anonymous refused', async (t) => {
  for (const headers of [{}, { authorization: 'Bearer nope.nope.nope' }, { apikey: 'nonsense' }, { date: httpDate(), authorization: 'hmac username="jasmine"' }] as Record<string, string>[]) {
    const r = await send('/four-ways', headers);
    t.equal(r.status, 401);
    t.equal(r.body, '{"error": "Authentication required"}');
  }
  const cases: Array<[Record<string, string>, string, string]> = [
    [{ apikey: 'Mouse-3f1e7c9a5b2d' }, 'Mickey', 'apikey'],
    [{ authorization: basic('medvezhonok', 'hunter2') }, 'Medvezhonok', 'authorization'],
    [jwtAuth(), 'Aladdin', ''],
    [hmacAuth(), 'Jasmine', 'authorization'],
    [hmacAuth('proxy-authorization'), 'Jasmine', 'proxy-authorization'],
  ];
  for (const [headers, user, hidden] of cases) {
    const r = await send('/four-ways', headers);
    t.equal(r.status, 200, user);
    t.equal(seen()['x-consumer-username'], user);
    t.equal(seen()['x-anonymous-consumer'], undefined);
    if (hidden !== '') t.equal(seen()[hidden], undefined, `${hidden} hidden`);
  }
  t.equal(seen()['x-credential-identifier'], 'jasmine');
});

t.test('hmac-auth after basic-auth with hide_credentials still reads the client\'s Authorization, as in Kong', async (t) => {
  t.equal((await send('/four-ways', hmacAuth())).status, 200);
  t.equal(seen().authorization, undefined);
});

t.test('acl groups of a consumer identified by jwt or hmac-auth', async (t) => {
  t.equal((await send('/acl', jwtAuth())).status, 200);
  t.equal(seen()['x-consumer-groups'], 'lamp');
  const jasmine = await send('/acl', hmacAuth());
  t.equal(jasmine.status, 403);
  t.equal(jasmine.json().message, 'You cannot consume this service');
});

t.test('a consumer-scoped plugin applies once jwt identifies its consumer', async (t) => {
  const scoped = config().replace("    jwt_secrets: [{key: aladdin-key, secret: " + JWT_SECRET + "}]\n",
    "    jwt_secrets: [{key: aladdin-key, secret: " + JWT_SECRET + "}]\n    plugins: [{name: request-termination, config: {status_code: 418, message: teapot}}]\n");
  const other = await startGateway(scoped);
  t.teardown(() => other.stop());
  const r = await request(other.proxyPort, '/jwt-or-key', { headers: jwtAuth() });
  t.equal(r.status, 418);
  t.equal(r.json().message, 'teapot');
  t.equal((await request(other.proxyPort, '/jwt-or-key', { headers: { apikey: 'Mouse-3f1e7c9a5b2d' } })).status, 200);
});

t.test('gateway routes names jwt and hmac in the AUTH column', async (t) => {
  const r = runCli(['routes', '-c', file]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /jwt-and-key .* AND jwt\+key-auth /);
  t.match(r.stdout, /hmac-and-key .* AND key-auth\+hmac-auth /);
  t.match(r.stdout, /four-ways .* OR\+anon jwt\+key-auth\+basic-auth\+hmac-auth \(anonymous\) +no: request-termination 401/);
  const single = tempFile('kong.yml', yaml('_format_version: "3.0"', 'routes:', '  - {name: j, paths: [/j], plugins: [{name: jwt}]}', '  - {name: h, paths: [/h], plugins: [{name: hmac-auth}]}'));
  const lines = runCli(['routes', '-c', single]).stdout.split('\n');
  t.match(lines.find((l) => l.startsWith('j ')), / jwt +no: jwt$/);
  t.match(lines.find((l) => l.startsWith('h ')), / hmac +no: hmac-auth$/);
});

t.test('gateway explain shows jwt and hmac-auth identify, with the token and signature masked', async (t) => {
  const jwt = token();
  const r = runCli(['explain', '-c', file, '--format', 'json', '-H', `Authorization: Bearer ${jwt}`, 'http://localhost:8000/four-ways']);
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stdout, jwt);
  t.notMatch(r.stdout, jwt.split('.')[2]);
  const out = JSON.parse(r.stdout);
  t.match(out.plugins.find((p: { name: string }) => p.name === 'jwt').result, /identified consumer Aladdin \(credential aladdin-key\)/);
  const query = runCli(['explain', '-c', file, '--format', 'json', `http://localhost:8000/four-ways?jwt=${jwt}`]);
  t.notMatch(query.stdout, jwt.split('.')[2]);
  const h = hmacAuth();
  const signature = /signature="([^"]+)"/.exec(h.authorization)![1];
  const hm = runCli(['explain', '-c', file, '--format', 'json', '-H', `Date: ${h.date}`, '-H', `Authorization: ${h.authorization}`, 'http://localhost:8000/four-ways']);
  t.equal(hm.status, 0, hm.stderr);
  t.notMatch(hm.stdout, signature);
  t.match(JSON.parse(hm.stdout).plugins.find((p: { name: string }) => p.name === 'hmac-auth').result, /identified consumer Jasmine \(credential jasmine\)/);
  t.notMatch(hm.stdout, HMAC_SECRET);
  t.notMatch(r.stdout, JWT_SECRET);
});

t.test('Admin API: /jwts and /hmac-auths, secrets masked', async (t) => {
  const withAdmin = await startGateway(config());
  t.teardown(() => withAdmin.stop());
  const admin = (path: string) => request(withAdmin.adminPort!, path);
  const jwts = (await admin('/jwts')).json();
  t.equal(jwts.data.length, 1);
  t.equal(jwts.data[0].key, 'aladdin-key');
  t.equal(jwts.data[0].algorithm, 'HS256');
  t.not(jwts.data[0].secret, JWT_SECRET);
  t.equal((await admin('/jwts/aladdin-key')).json().id, jwts.data[0].id);
  t.equal((await admin('/consumers/Aladdin/jwt')).json().data[0].key, 'aladdin-key');
  t.equal((await admin('/jwts/aladdin-key/consumer')).json().username, 'Aladdin');
  const hmacs = (await admin('/hmac-auths')).json();
  t.equal(hmacs.data[0].username, 'jasmine');
  t.not(hmacs.data[0].secret, HMAC_SECRET);
  t.equal((await admin('/consumers/Jasmine/hmac-auth/jasmine')).json().username, 'jasmine');
  const exported = (await admin('/config')).json().config as string;
  t.notMatch(exported, JWT_SECRET);
  t.notMatch(exported, HMAC_SECRET);
  t.match(exported, /jwt_secrets:/);
});

t.test('mixing anonymous and non-anonymous auth plugins on one route is an error at config.anonymous', async (t) => {
  const errors = errorsOf(
    yaml(
      '_format_version: "3.0"',
      'consumers: [{username: anon}]',
      'routes:',
      '  - name: mixed',
      '    paths: [/]',
      '    plugins: [{name: jwt, config: {anonymous: anon}}, {name: hmac-auth}]',
    ),
  );
  t.equal(errors.length, 1);
  t.match(errors[0], /routes\[0\]\.plugins\[0\]\.config\.anonymous.*mix anonymous and non-anonymous: 'hmac-auth'/);
});
