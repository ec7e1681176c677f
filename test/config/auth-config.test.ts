import t from 'tap';
import bcrypt from 'bcryptjs';
import { errorsOf, snapshotOf, yaml } from '../helpers/config';
import { checkConfigText, loadConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';
import { runCli, tempFile } from '../helpers/cli';

const head = '_format_version: "3.0"';

t.test('anonymous must name a consumer by id or username', async (t) => {
  t.same(
    errorsOf(yaml(head, 'consumers: [{username: guest, custom_id: g-1}]', 'routes: [{name: r, paths: [/]}]', 'plugins:', '  - name: key-auth', '    config: {anonymous: nobody}')),
    ["kong.yml:6:25: plugins[0].config.anonymous: anonymous consumer 'nobody' does not exist (expected the id or username of a consumer)"],
  );
  t.same(
    errorsOf(yaml(head, 'consumers: [{username: guest, custom_id: g-1}]', 'plugins:', '  - name: basic-auth', '    config:', '      anonymous: g-1')),
    ["kong.yml:6:18: plugins[0].config.anonymous: anonymous consumer 'g-1' does not exist (it is a custom_id; use the consumer's id or username)"],
  );
  t.same(errorsOf(yaml(head, 'consumers: [{username: guest, id: 4f1d2c3b-0000-4000-8000-00000000abcd}]', 'plugins: [{name: key-auth, config: {anonymous: 4f1d2c3b-0000-4000-8000-00000000abcd}}]')), []);
  t.same(errorsOf(yaml(head, 'plugins: [{name: key-auth, config: {anonymous: null}}]')), [], 'null is no anonymous');
  t.same(errorsOf(yaml(head, 'plugins: [{name: key-auth, config: {anonymous: ""}}]')), ['kong.yml:2:48: plugins[0].config.anonymous: length must be at least 1']);
});

t.test("mixing anonymous and non-anonymous auth plugins on one route is an error at each anonymous, naming the route", async (t) => {
  const config = yaml(
    head,
    'consumers: [{username: guest}]',
    'services:',
    '  - name: s',
    '    host: upstream.test',
    '    plugins: [{name: basic-auth}]',
    '    routes:',
    '      - {name: in-service, paths: [/s]}',
    '      - name: overridden',
    '        paths: [/o]',
    '        plugins: [{name: basic-auth, config: {anonymous: guest}}]',
    'routes:',
    '  - {name: alone, paths: [/a]}',
    '  - name: and-mode',
    '    paths: [/and]',
    '    plugins: [{name: basic-auth}, {name: key-auth}]',
    '  - name: disabled',
    '    paths: [/d]',
    '    plugins: [{name: basic-auth, enabled: false}]',
    'plugins:',
    '  - name: key-auth',
    '    config: {anonymous: guest}',
  );
  t.same(errorsOf(config), [
    "kong.yml:22:25: plugins[0].config.anonymous: auth plugins on route 'in-service' mix anonymous and non-anonymous: 'basic-auth' (services[0].plugins[0]) has no anonymous; set it on all of them (any one credential passes) or on none (every credential is required)",
  ], "one error: 'overridden' is all-OR, 'and-mode' all-AND, 'alone' and 'disabled' have one auth plugin");
  const two = errorsOf(yaml(head, 'consumers: [{username: guest}]', 'routes: [{name: a, paths: [/a]}, {name: b, paths: [/b]}]', 'plugins: [{name: key-auth, config: {anonymous: guest}}, {name: basic-auth}]'));
  t.equal(two.length, 2, 'once per route');
  t.match(two[0], /^kong\.yml:4:48: plugins\[0\]\.config\.anonymous: auth plugins on route 'a' mix/);
  t.match(two[1], /route 'b' mix/);
});

t.test('auth plugins cannot be scoped to a consumer; neither can acl', async (t) => {
  t.same(errorsOf(yaml(head, 'consumers:', '  - username: c', '    plugins: [{name: key-auth}, {name: acl, config: {allow: [a]}}]')), [
    "kong.yml:4:22: consumers[0].plugins[0].name: value must be null ('key-auth' identifies consumers, so it cannot be scoped to one)",
    "kong.yml:4:33: consumers[0].plugins[1].consumer: value must be null ('acl' cannot be scoped to a consumer)",
  ]);
});

t.test('acl config checks', async (t) => {
  const acl = (config: string) => errorsOf(yaml(head, `plugins: [{name: acl, config: ${config}}]`));
  t.same(acl('{allow: [a], deny: [b]}'), ["kong.yml:2:50: plugins[0].config.deny: only one of these fields may be set: 'config.allow', 'config.deny'"]);
  t.same(acl('{}'), ["kong.yml:2:31: plugins[0].config: at least one of these fields must be non-empty: 'config.allow', 'config.deny'"]);
  t.same(acl('{allow: []}'), ["kong.yml:2:31: plugins[0].config: at least one of these fields must be non-empty: 'config.allow', 'config.deny'"]);
  t.same(acl('{deny: [a], include_consumer_groups: true}'), ['kong.yml:2:68: plugins[0].config.include_consumer_groups: consumer groups are not supported by this gateway yet']);
  t.same(acl('{allow: [a], anonymous_authz_exception: maybe}'), ['kong.yml:2:71: plugins[0].config.anonymous_authz_exception: expected a boolean']);
});

t.test('key-auth and basic-auth config checks', async (t) => {
  t.same(errorsOf(yaml(head, 'plugins: [{name: key-auth, config: {key_names: [api key]}}]')), [
    "kong.yml:2:49: plugins[0].config.key_names[0]: invalid value 'api key': bad header name, allowed characters are A-Z, a-z, 0-9, '_', and '-'",
  ]);
  t.same(errorsOf(yaml(head, 'plugins: [{name: key-auth, config: {key_names: []}}]')), ['kong.yml:2:48: plugins[0].config.key_names: must NOT have fewer than 1 items']);
  t.same(errorsOf(yaml(head, `plugins: [{name: basic-auth, config: {realm: 'a"b'}}]`)), [
    `kong.yml:2:46: plugins[0].config.realm: invalid value 'a"b': must be printable ASCII without '"' or '\\'`,
  ]);
  t.same(errorsOf(yaml(head, 'plugins: [{name: basic-auth, config: {key_names: [x]}}]')), ["kong.yml:2:39: plugins[0].config.key_names: unknown field"]);
});

t.test('plaintext passwords are a warning that never quotes the password; broken hashes an error', async (t) => {
  const checked = checkConfigText(yaml(head, 'consumers:', '  - username: u', '    basicauth_credentials: [{username: u, password: hunter2}]'), 'kong.yml');
  t.same(checked.warnings.map(formatIssue), [
    'kong.yml:4:53: warning: consumers[0].basicauth_credentials[0].password: plaintext password: anyone who can read this file can use it; store a bcrypt hash instead (gateway hash-password)',
  ]);
  t.same(errorsOf(yaml(head, 'consumers: [{username: u}]', "basicauth_credentials: [{consumer: u, username: u, password: '$2b$10$tooShort'}]")), [
    'kong.yml:3:62: basicauth_credentials[0].password: invalid bcrypt hash (expected $2a$, $2b$ or $2y$, a cost from 04 to 31, then 53 characters)',
  ]);
  const hashed = bcrypt.hashSync('x', 4);
  t.same(checkConfigText(yaml(head, 'consumers: [{username: u}]', `basicauth_credentials: [{consumer: u, username: u, password: '${hashed}'}]`), 'kong.yml').warnings, []);

  const file = tempFile('kong.yml', yaml(head, 'consumers: [{username: u, basicauth_credentials: [{username: u, password: hunter2}]}]'));
  const lenient = runCli(['validate', file]);
  t.equal(lenient.status, 0);
  t.match(lenient.stderr, /warning: consumers\[0\]\.basicauth_credentials\[0\]\.password: plaintext password/);
  t.notMatch(lenient.stderr, /hunter2/);
  t.equal(runCli(['validate', '--strict', file]).status, 1);
  const json = JSON.parse(runCli(['validate', '--format', 'json', file]).stdout);
  t.equal(json.valid, true);
  t.equal(json.issues[0].severity, 'warning');
});

t.test('the snapshot holds bcrypt hashes only; unchanged plaintext keeps its hash across reloads', async (t) => {
  const hashed = bcrypt.hashSync('h', 4);
  const text = (plain: string) =>
    yaml(head, 'consumers: [{username: u}]', 'basicauth_credentials:', `  - {consumer: u, username: p, password: ${plain}}`, `  - {consumer: u, username: h, password: '${hashed}'}`);
  const first = loadConfigText(text('hunter2'), 'kong.yml').snapshot;
  const p = first.basicAuthByUsername.get('p')!;
  t.match(p.password, /^\$2b\$04\$/, 'plaintext hashed at a low cost');
  t.ok(bcrypt.compareSync('hunter2', p.password));
  t.equal(first.basicAuthByUsername.get('h')!.password, hashed, 'a hash is kept as written');
  t.equal(first.entities.basicauth_credentials[0].password, 'hunter2', 'the entities stay as written');
  const same = loadConfigText(text('hunter2'), 'kong.yml', first).snapshot;
  t.equal(same.basicAuthByUsername.get('p')!.password, p.password, 'no second hash for an unchanged password');
  t.not(same.basicAuthByUsername.get('p'), p, 'but a new credential object, so remembered checks start afresh');
  const changed = loadConfigText(text('hunter3'), 'kong.yml', first).snapshot;
  t.ok(bcrypt.compareSync('hunter3', changed.basicAuthByUsername.get('p')!.password));
});

t.test('credential indexes: one lookup by key and by username', async (t) => {
  const snap = snapshotOf(yaml(head, 'consumers:', '  - username: a', '    keyauth_credentials: [{key: k1}, {key: k2}]', "    basicauth_credentials: [{username: ua, password: 'x'}]"));
  t.equal(snap.keyAuthByKey.get('k2')!.consumer, snap.consumersByUsername.get('a')!.id);
  t.equal(snap.basicAuthByUsername.get('ua')!.consumer, snap.consumersByUsername.get('a')!.id);
});
