import t from 'tap';
import bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { request, type Reply } from '../helpers/http';
import { runCli, startGateway, tempFile, type RunningGateway } from '../helpers/cli';
import { answering, yaml } from '../helpers/config';
import { waitFor } from '../helpers/wait';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

let gw: RunningGateway;
t.beforeEach(async () => {
  gw = await startGateway(answering('file'));
});
t.afterEach(() => gw.stop());

const post = (body: string | Buffer | undefined, contentType?: string, query = ''): Promise<Reply> => {
  const headers: Record<string, string> = {};
  if (contentType) headers['Content-Type'] = contentType;
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  return request(gw.adminPort!, `/config${query}`, { method: 'POST', headers, body });
};
const answer = async () => (await request(gw.proxyPort, '/')).body;
const status = async () => (await request(gw.adminPort!, '/status')).json();

t.test('POST /config in every form Kong accepts goes live atomically and answers 201', async (t) => {
  const text = (answerBody: string) => answering(answerBody, answerBody);
  const json = JSON.stringify(parse(text('json-body')));
  // [what, request body, content type, what the proxy then answers, the text whose md5 is the new hash]
  const forms: Array<[string, string, string, string, string]> = [
    ['raw YAML', text('yaml-body'), 'text/yaml', 'yaml-body', text('yaml-body')],
    ['a JSON body that is the config', json, 'application/json', 'json-body', json],
    ['a JSON `config` string', JSON.stringify({ config: text('json-field') }), 'application/json', 'json-field', text('json-field')],
    [
      'a urlencoded `config` field',
      `config=${encodeURIComponent(text('form-field'))}`,
      'application/x-www-form-urlencoded',
      'form-field',
      text('form-field'),
    ],
    [
      'a multipart `config` file (curl -F config=@kong.yml)',
      '--XyZ\r\nContent-Disposition: form-data; name="other"\r\n\r\nignored\r\n' +
        `--XyZ\r\nContent-Disposition: form-data; name="config"; filename="kong.yml"\r\n\r\n${text('multipart')}\r\n--XyZ--\r\n`,
      'multipart/form-data; boundary=XyZ',
      'multipart',
      text('multipart'),
    ],
  ];
  for (const [what, body, type, answerBody, hashed] of forms) {
    const r = await post(body, type);
    t.equal(r.status, 201, what);
    const created = r.json();
    t.match(Object.values(created.routes), [{ name: 'root', paths: ['/'] }], `${what}: the flattened entities by id`);
    t.match(Object.values(created.consumers), [{ username: answerBody }]);
    t.equal(await answer(), answerBody, `${what}: the proxy answers from the new config`);
    t.equal((await status()).configuration_hash, md5(hashed), `${what}: configuration_hash is the md5 of the config text`);
    t.equal((await request(gw.adminPort!, '/consumers/someone')).status, 404, `${what}: entities not in the new config are gone`);
  }
  const logs = gw.logs().split('\n').filter((l) => l.includes('"msg":"config reloaded","source":"admin"'));
  t.equal(logs.length, forms.length, 'one log line per accepted POST');
});

t.test('GET /config returns the live config; posting it back round-trips; passwords stay hashed', async (t) => {
  await gw.stop();
  gw = await startGateway(answering('file'), { args: ['--admin-show-secrets'] });
  const text = yaml(
    '_format_version: "3.0"',
    'services:',
    '  - name: svc',
    '    url: http://127.0.0.1:9/base',
    '    tags: ["yes", "0123"]',
    '    routes: [{name: r, paths: [/r], headers: {x-flag: ["on"]}}]',
    'consumers:',
    '  - username: alice',
    '    basicauth_credentials: [{username: alice, password: s3cret-pass}]',
    '    keyauth_credentials: [{key: k-1}]',
    '    acls: [{group: g}]',
    'plugins: [{name: request-termination, service: svc, config: {status_code: 418}}]',
  );
  t.equal((await post(text, 'text/yaml')).status, 201);
  const live = (await request(gw.adminPort!, '/config')).json().config as string;
  t.notMatch(live, /s3cret-pass/, 'no plaintext password');
  const doc = parse(live, { version: '1.1' });
  t.match(doc, { _format_version: '3.0', _transform: false });
  t.same(doc.services[0].tags, ['yes', '0123'], 'YAML 1.1 look-alikes stay strings');
  t.same(doc.routes[0].headers, { 'x-flag': ['on'] });
  t.ok(bcrypt.compareSync('s3cret-pass', doc.basicauth_credentials[0].password));
  t.equal(runCli(['validate', tempFile('exported.yml', live)]).status, 0, '`gateway validate` accepts the export');

  const before = (await request(gw.adminPort!, '/services/svc')).json();
  const again = await post(live, 'text/yaml');
  t.equal(again.status, 201);
  t.same(Object.keys(again.json()).sort(), ['acls', 'basicauth_credentials', 'consumers', 'keyauth_credentials', 'plugins', 'routes', 'services']);
  t.same((await request(gw.adminPort!, '/services/svc')).json(), before, 'the same entities, ids included');
  t.equal((await request(gw.proxyPort, '/r', { headers: { 'X-Flag': 'on' } })).status, 418);
});

t.test('GET /config masks keys and plugin passwords by default; a masked export is refused, never loaded', async (t) => {
  const key = 'k-0123456789abcdef';
  const text = yaml(
    '_format_version: "3.0"',
    'services: [{name: svc, url: "http://127.0.0.1:9", routes: [{name: r, paths: [/r]}]}]',
    `consumers: [{username: alice, keyauth_credentials: [{key: ${key}}, {key: short}]}]`,
    'plugins: [{name: rate-limiting, config: {minute: 5, redis: {host: 127.0.0.1, password: redis-pass}}}]',
  );
  t.equal((await post(text, 'text/yaml')).status, 201);
  const live = (await request(gw.adminPort!, '/config')).json().config as string;
  t.notMatch(live, new RegExp(`${key}|short|redis-pass`), 'no secret in the export');
  const doc = parse(live, { version: '1.1' });
  t.same(doc.keyauth_credentials.map((k: any) => k.key), ['k-01…', '…'], 'a long key keeps a 4-character prefix, a short one nothing');
  t.equal(doc.plugins[0].config.redis.password, '…');
  const refused = await post(live, 'text/yaml');
  t.equal(refused.status, 400, 'posting a masked export back is refused');
  t.match(refused.body, /masked/);
  t.equal(runCli(['validate', tempFile('masked.yml', live)]).status, 1);
  t.equal((await status()).configuration_hash, md5(text), 'the posted config is still the live one');
});

t.test('?check_hash=1 answers 304 when the config is the live one', async (t) => {
  const text = answering('hashed');
  t.equal((await post(text, 'text/yaml', '?check_hash=1')).status, 201);
  const same = await post(text, 'text/yaml', '?check_hash=1');
  t.equal(same.status, 304);
  t.equal(same.body, '');
  t.equal((await post(text, 'text/yaml')).status, 201, 'without check_hash it is loaded again');
  t.equal((await post(answering('other'), 'text/yaml', '?check_hash=1')).status, 201);
});

t.test('no config in the request: 400 expected a declarative configuration', async (t) => {
  for (const [body, type] of [
    [undefined, undefined],
    ['', 'text/yaml'],
    ['{"foo": 1}', 'application/json'],
    ['other=1', 'application/x-www-form-urlencoded'],
  ] as const) {
    const r = await post(body, type);
    t.equal(r.status, 400, `${type}: ${body}`);
    t.same(r.json(), { message: 'expected a declarative configuration' });
  }
});

t.test("an invalid config is 400 in Kong's shape and the old config keeps serving", async (t) => {
  const cases: Array<[string, string, object, string]> = [
    [
      'not an object',
      'bobby tables',
      { error: 'failed parsing declarative configuration: expected an object' },
      '{error="failed parsing declarative configuration: expected an object"}',
    ],
    [
      'field errors mirror the input, with null holes',
      yaml('_format_version: "3.0"', 'services:', '  - name: a', '    host: x', '    routes: [{paths: [/ok, nope]}]'),
      { services: [{ routes: [{ paths: [null, 'must start with "/" or "~"'] }] }] },
      '{services={{routes={{paths={[2]="must start with \\"/\\" or \\"~\\""}}}}}}',
    ],
    [
      'entity-level errors sit under @entity',
      yaml('_format_version: "3.0"', 'consumers: [{username: a}, {tags: [x]}]'),
      { consumers: [null, { '@entity': ["at least one of these fields must be non-empty: 'custom_id', 'username'"] }] },
      `{consumers={[2]={["@entity"]={"at least one of these fields must be non-empty: 'custom_id', 'username'"}}}}`,
    ],
    [
      'a dangling reference',
      yaml('_format_version: "3.0"', 'routes: [{name: r, service: ghost, paths: [/]}]'),
      { routes: [{ service: "invalid reference 'service: ghost' (no such entry in 'services')" }] },
      `{routes={{service="invalid reference 'service: ghost' (no such entry in 'services')"}}}`,
    ],
    [
      'several fields, Kong-sorted in the message',
      yaml('_format_version: "3.0"', 'services: [{port: -12, host: x, name: "a b"}]'),
      {
        services: [{ port: 'value should be between 0 and 65535', name: "invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~" }],
      },
      `{services={{name="invalid value 'a b': the only accepted ascii characters are alphanumerics or ., -, _, and ~",port="value should be between 0 and 65535"}}}`,
    ],
  ];
  for (const [what, text, fields, lua] of cases) {
    const r = await post(text, 'text/yaml');
    t.equal(r.status, 400, what);
    t.same(r.json(), { code: 14, name: 'invalid declarative configuration', message: `declarative config is invalid: ${lua}`, fields }, what);
    t.equal(await answer(), 'file', `${what}: the old config keeps serving`);
  }
  const st = await status();
  t.match(st.last_reload_error, { source: 'admin', accepted: false, errors: [/^POST \/config:\d+:\d+: /] });
  t.equal(st.configuration_hash, md5(answering('file')));
});

t.test('?flatten_errors=1 adds one record per entity, without echoing secrets', async (t) => {
  const text = yaml(
    '_format_version: "3.0"',
    'consumers:',
    '  - username: a',
    '    keyauth_credentials: [{key: very-secret-key}]',
    '  - username: b',
    '    keyauth_credentials: [{key: very-secret-key}]',
    'routes: [{name: r, tags: [t1], service: ghost, paths: [nope]}]',
  );
  const r = await post(text, 'text/yaml', '?flatten_errors=1');
  t.equal(r.status, 400);
  t.notMatch(r.body, /very-secret-key/);
  const flat = r.json().flattened_errors;
  t.same(flat.find((e: any) => e.entity_type === 'route'), {
    entity_type: 'route',
    entity_name: 'r',
    entity_id: null,
    entity_tags: ['t1'],
    errors: [
      { type: 'field', field: 'service', message: "invalid reference 'service: ghost' (no such entry in 'services')" },
      { type: 'field', field: 'paths[0]', message: 'must start with "/" or "~"' },
    ],
  });
  t.match(flat.find((e: any) => e.entity_type === 'keyauth_credential'), { errors: [{ type: 'entity', message: /uniqueness violation/ }] });
  t.notOk('flattened_errors' in (await post(text, 'text/yaml')).json(), 'only when asked');
});

t.test('POST /config is in memory only: the next change of the file wins', async (t) => {
  t.equal((await post(answering('posted'), 'text/yaml')).status, 201);
  t.equal(await answer(), 'posted');
  writeFileSync(gw.configFile, answering('edited'));
  await waitFor('the file edit to go live', async () => ((await answer()) === 'edited' ? true : undefined));
});
