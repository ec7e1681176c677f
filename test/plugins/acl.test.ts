import t from 'tap';
import { request } from '../helpers/http';
import { benchRoute as route, startBench, type AuthBench } from '../helpers/auth';

let bench: AuthBench;
const keyAuth = '{name: key-auth}';
const keyAnon = (who: string) => `{name: key-auth, config: {anonymous: ${who}}}`;
const basicAnon = (who: string) => `{name: basic-auth, config: {anonymous: ${who}}}`;

t.before(async () => {
  bench = await startBench(
    [
      ...route('allow-write', `[${keyAuth}, {name: acl, config: {allow: [write]}}]`),
      ...route('deny-write', `[${keyAuth}, {name: acl, config: {deny: [write]}}]`),
      ...route('hidden', `[${keyAuth}, {name: acl, config: {allow: [read], hide_groups_header: true}}]`),
      ...route('always', `[${keyAuth}, {name: acl, config: {allow: [read], always_use_authenticated_groups: true}}]`),
      ...route('anon-403', `[${keyAnon('guest')}, ${basicAnon('guest')}, {name: acl, config: {allow: [write]}}]`),
      ...route('anon-401', `[${keyAnon('guest')}, ${basicAnon('guest')}, {name: acl, config: {allow: [write], anonymous_authz_exception: false}}]`),
      ...route('anon-read', `[${keyAnon('guest')}, {name: acl, config: {allow: [read, write]}}]`),
      ...route('ghost', `[${keyAnon('ghost')}, {name: acl, config: {allow: [read]}}]`),
      ...route('ghost-401', `[${keyAnon('ghost')}, {name: acl, config: {allow: [read], anonymous_authz_exception: false}}]`),
      ...route('no-auth', '[{name: acl, config: {allow: [read]}}]'),
    ],
    [
      'consumers:',
      '  - username: alice',
      '    keyauth_credentials: [{key: alice-key}]',
      '    acls: [{group: read}, {group: write}]',
      '  - username: bob',
      '    keyauth_credentials: [{key: bob-key}]',
      '    acls: [{group: read}]',
      '  - username: loner',
      '    keyauth_credentials: [{key: loner-key}]',
      '  - username: guest',
      '  - username: ghost',
      'acls:',
      '  - {consumer: guest, group: read}',
    ],
  );
});
t.teardown(() => bench.close());

const seen = () => bench.seen();
const as = (path: string, key?: string) => request(bench.gw.proxyPort, path, key === undefined ? {} : { headers: { apikey: key } });

t.test('allow: a member passes with X-Consumer-Groups; others get 403', async (t) => {
  t.equal((await as('/allow-write', 'alice-key')).status, 200);
  t.equal(seen().headers['x-consumer-groups'], 'read, write');
  for (const key of ['bob-key', 'loner-key']) {
    const r = await as('/allow-write', key);
    t.equal(r.status, 403, key);
    t.equal(r.json().message, 'You cannot consume this service');
    t.equal(r.headers['www-authenticate'], undefined);
  }
});

t.test('deny: members are refused; consumers without groups pass', async (t) => {
  t.equal((await as('/deny-write', 'alice-key')).status, 403);
  t.equal((await as('/deny-write', 'bob-key')).status, 200);
  t.equal(seen().headers['x-consumer-groups'], 'read');
  t.equal((await as('/deny-write', 'loner-key')).status, 200);
  t.equal(seen().headers['x-consumer-groups'], '');
});

t.test('hide_groups_header', async (t) => {
  t.equal((await as('/hidden', 'bob-key')).status, 200);
  t.equal(seen().headers['x-consumer-groups'], undefined);
});

t.test('always_use_authenticated_groups: without groups from an auth plugin, the consumer groups decide', async (t) => {
  t.equal((await as('/always', 'bob-key')).status, 200);
  t.equal(seen().headers['x-consumer-groups'], 'read');
  t.equal((await as('/always', 'loner-key')).status, 403);
});

t.test('no consumer at all: 401 Unauthorized', async (t) => {
  const r = await as('/no-auth');
  t.equal(r.status, 401);
  t.equal(r.json().message, 'Unauthorized');
});

t.test('the anonymous consumer gets its own groups (read-only access)', async (t) => {
  t.equal((await as('/anon-read')).status, 200);
  t.equal(seen().headers['x-consumer-username'], 'guest');
  t.equal(seen().headers['x-anonymous-consumer'], 'true');
  t.equal(seen().headers['x-consumer-groups'], 'read');
});

t.test('anonymous_authz_exception true (default): the refused anonymous consumer gets 403', async (t) => {
  const r = await as('/anon-403');
  t.equal(r.status, 403);
  t.equal(r.json().message, 'You cannot consume this service');
  t.equal(r.headers['www-authenticate'], undefined);
  t.equal((await as('/anon-403', 'alice-key')).status, 200);
});

t.test("anonymous_authz_exception false: 401 with the route's challenges, so the client can retry with credentials", async (t) => {
  const r = await as('/anon-401');
  t.equal(r.status, 401);
  t.equal(r.json().message, 'Unauthorized');
  t.equal(r.headers['www-authenticate'], 'Key, Basic realm="service"');
  t.equal((await as('/anon-401', 'wrong-key')).status, 401, 'a wrong key falls back to anonymous, then the same 401');
  t.equal((await as('/anon-401', 'alice-key')).status, 200);
  const bob = await as('/anon-401', 'bob-key');
  t.equal(bob.status, 403, 'an authenticated consumer still gets 403');
  t.equal(bob.headers['www-authenticate'], undefined);
});

t.test('an anonymous consumer without any group', async (t) => {
  const kong = await as('/ghost');
  t.equal(kong.status, 401, "Kong's answer: 401 without a challenge");
  t.equal(kong.json().message, 'Unauthorized');
  t.equal(kong.headers['www-authenticate'], undefined);
  const shield = await as('/ghost-401');
  t.equal(shield.status, 401);
  t.equal(shield.headers['www-authenticate'], 'Key');
});
