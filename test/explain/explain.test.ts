import t from 'tap';
import { join } from 'node:path';
import { runCli, tempFile } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { basic } from '../helpers/auth';

const KONG_YML = join(__dirname, '..', '..', 'kong.yml');
const DEMO_KEY = 'demo-7c1e5a9f3b2d8604';
const ALICE_KEY = 'alice-0f3a9c27e4b15d68';

const explain = (file: string, ...args: string[]) => runCli(['explain', '-c', file, ...args]);
const json = (file: string, ...args: string[]) => {
  const r = explain(file, '--format', 'json', ...args);
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};

const LAYERED = tempFile(
  'kong.yml',
  yaml(
    '_format_version: "3.0"',
    'consumers:',
    '  - username: anon',
    '    plugins: [{name: request-termination, config: {status_code: 401, message: sign in first}}]',
    '  - username: alice',
    `    keyauth_credentials: [{key: ${ALICE_KEY}}]`,
    "    basicauth_credentials: [{username: alice, password: 'wonder-land'}]",
    'services:',
    '  - name: books',
    '    url: http://books.internal:8080/v1',
    '    plugins: [{name: key-auth, config: {anonymous: anon}}, {name: basic-auth, config: {anonymous: anon}}]',
    '    routes:',
    '      - name: books',
    '        paths: [/books]',
    '        methods: [GET]',
    '        plugins: [{name: acl, config: {deny: [blocked]}}]',
    '      - name: books-write',
    '        paths: [/books]',
    '        methods: [POST]',
    '  - name: strict',
    '    url: http://strict.internal',
    '    routes:',
    '      - name: strict',
    '        paths: [/strict]',
    '        plugins: [{name: key-auth}, {name: acl, config: {allow: [staff]}}]',
    'plugins:',
    '  - name: rate-limiting',
    '    config: {minute: 100, policy: redis, redis: {host: 127.0.0.1, port: 1, password: redis-s3cret}}',
  ),
);

t.test('the bundled kong.yml: route, plugins with their scope, consumer, outcome; the key masked', async (t) => {
  const r = explain(KONG_YML, '-H', `apikey: ${DEMO_KEY}`, 'http://localhost:8000/whoami?x=1');
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  t.equal(lines[0], 'request   GET /whoami?x=1  (Host: localhost:8000)');
  t.equal(lines[1], '          apikey: ***');
  t.equal(lines[2], 'route     whoami (no service): path starts with /whoami, any method, any host');
  t.match(r.stdout, /\n {10}1\. {2}key-auth {13}route {2}identified consumer demo \(credential [0-9a-f-]{36}\)\n/);
  t.match(r.stdout, /\n {10}2\. {2}request-termination {2}route {2}answered 200\n/);
  t.match(r.stdout, /\nconsumer  demo\noutcome   answered 200 by the gateway\n/);
  t.notMatch(r.stdout, DEMO_KEY);

  const anonymous = json(KONG_YML, 'http://localhost:8000/whoami');
  t.same(anonymous.consumer, { id: anonymous.consumer.id, username: 'guest', anonymous: true });
  t.equal(anonymous.plugins[0].result, 'no valid credential: continues as anonymous consumer guest');
});

t.test('the chain in execution order, each plugin with its scope, across the switch to the consumer chain', async (t) => {
  const x = json(LAYERED, 'http://localhost/books/1');
  t.equal(x.route.name, 'books');
  t.same(x.route.why, ['path starts with /books', 'method GET is one of GET', 'any host']);
  t.same(
    x.plugins.map((p: any) => [p.name, p.scope, p.ran, p.result]),
    [
      ['key-auth', 'service', true, 'no valid credential: continues as anonymous consumer anon'],
      ['basic-auth', 'service', true, 'no valid credential: continues as anonymous consumer anon'],
      ['acl', 'route', true, 'passed'],
      ['rate-limiting', 'global', true, 'passed'],
      ['request-termination', 'consumer', true, 'answered 401'],
    ],
  );
  t.equal(x.outcome.status, 401);
  t.equal(JSON.parse(x.outcome.body).message, 'sign in first');
  t.same(x.near_misses, [{ route: 'books-write', reason: 'method GET is not one of POST' }]);
  t.equal(x.upstream.url, 'http://books.internal:8080/v1/1', 'strip_path removed /books; the service path leads');

  const alice = json(LAYERED, '-H', `Authorization: ${basic('alice', 'wonder-land')}`, 'http://localhost/books/1?page=2');
  t.same(alice.plugins.map((p: any) => p.consumer), ['anon', 'alice', 'alice', 'alice']);
  t.equal(alice.plugins[1].result, 'identified consumer alice (credential alice)');
  t.same(alice.outcome, { action: 'proxied', upstream: 'http://books.internal:8080/v1/1?page=2' });
  t.equal(alice.consumer.username, 'alice');
});

t.test('plugins after the one that answered are listed as not reached', async (t) => {
  const x = json(LAYERED, 'http://localhost/strict');
  t.same(
    x.plugins.map((p: any) => [p.name, p.ran, p.result]),
    [
      ['key-auth', true, 'answered 401'],
      ['acl', false, 'not reached'],
      ['rate-limiting', false, 'not reached'],
    ],
  );
  t.equal(x.outcome.headers['www-authenticate'], 'Key');
  const none = json(LAYERED, '-X', 'DELETE', 'http://localhost/books');
  t.equal(none.route, null);
  t.equal(none.outcome.status, 404);
  t.same(none.near_misses.map((m: any) => m.route), ['books', 'books-write']);
});

t.test('secrets never appear: keys, Authorization values, basic-auth passwords, redis passwords', async (t) => {
  for (const format of ['text', 'json']) {
    const r = explain(
      LAYERED,
      '--format', format,
      '-H', `Authorization: ${basic('alice', 'wonder-land')}`,
      '-H', `Proxy-Authorization: ${basic('alice', 'proxy-pass')}`,
      '-H', `apikey: ${ALICE_KEY}`,
      `http://localhost/books?apikey=${ALICE_KEY}`,
    );
    t.equal(r.status, 0, r.stderr);
    for (const secret of [ALICE_KEY, 'wonder-land', 'proxy-pass', basic('alice', 'wonder-land').slice(6), 'redis-s3cret']) {
      t.notOk(r.stdout.includes(secret), `${format}: no ${secret}`);
    }
    t.match(r.stdout, '***');
  }
});

t.test('usage errors and config errors', async (t) => {
  const bad = explain(LAYERED, 'books');
  t.equal(bad.status, 2);
  t.match(bad.stderr, "expected an absolute URL (http://host/path) or a path (/path), got 'books'");
  const broken = tempFile('kong.yml', yaml('_format_version: "3.0"', 'routes: [{name: r, paths: [nope]}]'));
  const r = explain(broken, '/');
  t.equal(r.status, 1);
  t.equal(r.stderr, `${broken}:2:28: routes[0].paths[0]: must start with "/" or "~"\n`);
});

t.test('a bare path has no Host: answered 400 before routing, and the route it would match is named, not a crash', async (t) => {
  const r = json(KONG_YML, '/echo');
  t.equal(r.outcome.status, 400);
  t.same(r.near_misses, [{ route: 'echo', reason: 'matches, but the request was refused before routing' }]);
});
