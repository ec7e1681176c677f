import t from 'tap';
import { errorsOf, yaml } from '../helpers/config';

const head = '_format_version: "3.0"';

t.test('a valid file has no errors', async (t) => {
  t.same(errorsOf(yaml(head, 'services:', '  - name: a', '    url: http://example.com', '    routes:', '      - paths: [/a]')), []);
});

t.test('the issue example: a path that starts with neither / nor ~', async (t) => {
  const text = yaml(
    head,
    'services:',
    '  - name: a',
    '    url: http://example.com',
    '    routes:',
    '      - name: r0',
    '        paths: [/ok]',
    '      - name: r1',
    '        paths:',
    '          - /fine',
    '          - bad',
  );
  t.same(errorsOf(text), ['kong.yml:11:13: services[0].routes[1].paths[1]: must start with "/" or "~"']);
});

t.test('YAML syntax error is located', async (t) => {
  const errs = errorsOf(yaml(head, 'services:', '  - name: [unclosed'));
  t.equal(errs.length >= 1, true);
  t.match(errs[0], /^kong\.yml:\d+:\d+: failed parsing declarative configuration: /);
});

t.test('empty file and scalar document', async (t) => {
  t.same(errorsOf(''), ['kong.yml:1:1: failed parsing declarative configuration: expected an object']);
  t.same(errorsOf('just a string\n'), ['kong.yml:1:1: failed parsing declarative configuration: expected an object']);
});

t.test('_format_version missing or wrong', async (t) => {
  t.same(errorsOf(yaml('services: []')), ['kong.yml:1:1: _format_version: required field missing']);
  t.same(errorsOf(yaml('_format_version: "9.9"')), ['kong.yml:1:18: _format_version: expected one of: 1.1, 2.1, 3.0']);
});

t.test('unknown field with a suggestion', async (t) => {
  t.same(errorsOf(yaml(head, 'services:', '  - name: a', '    url: http://x', '    retires: 3')), [
    "kong.yml:5:5: services[0].retires: unknown field (did you mean 'retries'?)",
  ]);
});

t.test('unsupported Kong entity', async (t) => {
  t.same(errorsOf(yaml(head, 'key_sets:', '  - name: u')), [
    "kong.yml:2:1: key_sets: 'key_sets' is not supported by this gateway yet",
  ]);
});

t.test('wrong types', async (t) => {
  t.same(errorsOf(yaml(head, 'services:', '  - name: a', '    host: x', '    port: "eighty"')), ['kong.yml:5:11: services[0].port: expected an integer']);
  t.same(errorsOf(yaml(head, 'services:', '  - name: a', '    host: x', '    routes:', '      - paths: /a')), [
    'kong.yml:6:16: services[0].routes[0].paths: expected an array',
  ]);
  t.same(errorsOf(yaml(head, 'services:', '  - name: a', '    host: x', '    port: 70000')), [
    'kong.yml:5:11: services[0].port: value should be between 0 and 65535',
  ]);
});

t.test('service needs url or host', async (t) => {
  const errs = errorsOf(yaml(head, 'services:', '  - name: a'));
  t.ok(errs.includes('kong.yml:3:5: services[0].host: required field missing'));
});

t.test('bad names', async (t) => {
  t.same(errorsOf(yaml(head, 'services:', '  - name: "@gobo"', '    host: x')), [
    "kong.yml:3:11: services[0].name: invalid value '@gobo': the only accepted ascii characters are alphanumerics or ., -, _, and ~",
  ]);
});

t.test('route must set a matching field', async (t) => {
  t.same(errorsOf(yaml(head, 'services:', '  - name: a', '    host: x', '    routes:', '      - name: r')), [
    "kong.yml:6:9: services[0].routes[0]: must set one of 'methods', 'hosts', 'headers', 'paths'",
  ]);
});

t.test('route hosts, methods, headers, regex', async (t) => {
  t.same(errorsOf(yaml(head, 'routes:', '  - name: r', '    methods: [get]')), [
    "kong.yml:4:15: routes[0].methods[0]: invalid value 'get': methods must be upper-case letters",
  ]);
  const text = yaml(head, 'routes:', '  - name: r', '    hosts: ["a.*.com"]', '    headers:', '      Host: [x]', '    paths: ["~/(unclosed"]');
  const errs = errorsOf(text).sort();
  t.equal(errs[0], 'kong.yml:4:13: routes[0].hosts[0]: invalid wildcard: must be placed at leftmost or rightmost label');
  t.equal(errs[1], "kong.yml:6:7: routes[0].headers.Host: cannot contain 'host' header, which must be specified in the 'hosts' attribute");
  t.match(errs[2], /^kong\.yml:7:13: routes\[0\]\.paths\[0\]: invalid regex/);
  t.equal(errs.length, 3);
});

t.test('dangling references', async (t) => {
  t.same(errorsOf(yaml(head, 'routes:', '  - name: r', '    paths: [/]', '    service: ghost')), [
    "kong.yml:5:14: routes[0].service: invalid reference 'service: ghost' (no such entry in 'services')",
  ]);
  t.same(errorsOf(yaml(head, 'plugins:', '  - name: request-termination', '    consumer: nobody')), [
    "kong.yml:4:15: plugins[0].consumer: invalid reference 'consumer: nobody' (no such entry in 'consumers')",
  ]);
  t.same(errorsOf(yaml(head, 'keyauth_credentials:', '  - key: abc', '    consumer: nobody')), [
    "kong.yml:4:15: keyauth_credentials[0].consumer: invalid reference 'consumer: nobody' (no such entry in 'consumers')",
  ]);
});

t.test('uniqueness', async (t) => {
  t.same(errorsOf(yaml(head, 'services:', '  - name: a', '    host: x', '  - name: a', '    host: z')), [
    "kong.yml:5:11: services[1].name: uniqueness violation: 'services' entity with name set to 'a' already declared at services[0]",
  ]);
  t.same(errorsOf(yaml(head, 'consumers:', '  - username: u', '  - username: u')), [
    "kong.yml:4:15: consumers[1].username: uniqueness violation: 'consumers' entity with username set to 'u' already declared at consumers[0]",
  ]);
  t.same(errorsOf(yaml(head, 'consumers:', '  - custom_id: c', '  - custom_id: c')), [
    "kong.yml:4:16: consumers[1].custom_id: uniqueness violation: 'consumers' entity with custom_id set to 'c' already declared at consumers[0]",
  ]);
  t.same(errorsOf(yaml(head, 'consumers:', '  - id: same', '    username: a', '  - id: same', '    username: b')), [
    "kong.yml:5:9: consumers[1].id: uniqueness violation: 'consumers' entity with id set to 'same' already declared at consumers[0]",
  ]);
});

t.test('duplicate key-auth keys are reported without the key', async (t) => {
  const errs = errorsOf(yaml(head, 'consumers:', '  - username: a', '    keyauth_credentials: [{key: s3cret-value}]', '  - username: b', '    keyauth_credentials: [{key: s3cret-value}]'));
  t.equal(errs.length, 1);
  t.match(errs[0], /^kong\.yml:6:27: consumers\[1\]\.keyauth_credentials\[0\]: uniqueness violation/);
  t.notMatch(errs[0], /s3cret/);
});

t.test('consumer needs username or custom_id', async (t) => {
  t.same(errorsOf(yaml(head, 'consumers:', '  - tags: [x]')), [
    "kong.yml:3:5: consumers[0]: at least one of these fields must be non-empty: 'custom_id', 'username'",
  ]);
});

t.test('unknown and unsupported plugins', async (t) => {
  t.same(errorsOf(yaml(head, 'plugins:', '  - name: request-terminaton')), [
    "kong.yml:3:11: plugins[0].name: plugin 'request-terminaton' does not exist (did you mean 'request-termination'?)",
  ]);
  const errs = errorsOf(yaml(head, 'plugins:', '  - name: datadog'));
  t.match(errs[0], /^kong\.yml:3:11: plugins\[0\]\.name: plugin 'datadog' is not supported by this gateway yet/);
});

t.test('plugin config is validated by the plugin schema', async (t) => {
  t.same(errorsOf(yaml(head, 'plugins:', '  - name: request-termination', '    config:', '      status_code: 42')), [
    'kong.yml:5:20: plugins[0].config.status_code: value should be between 100 and 599',
  ]);
  t.same(errorsOf(yaml(head, 'plugins:', '  - name: request-termination', '    config:', '      statuscode: 200')), [
    "kong.yml:5:7: plugins[0].config.statuscode: unknown field (did you mean 'status_code'?)",
  ]);
  t.same(errorsOf(yaml(head, 'plugins:', '  - name: request-termination', '    config:', '      message: a', '      body: b')), [
    "kong.yml:6:13: plugins[0].config.body: only one of these fields may be set: 'config.message', 'config.body'",
  ]);
});

t.test('nested entities may not carry foreign keys', async (t) => {
  const text = yaml(head, 'services:', '  - name: s', '    host: x', '    plugins:', '      - name: request-termination', '        route: r');
  t.match(errorsOf(text)[0], /^kong\.yml:7:16: services\[0\]\.plugins\[0\]\.route: value must be null/);
});

t.test('two plugins of one name on one scope', async (t) => {
  const errs = errorsOf(yaml(head, 'plugins:', '  - name: request-termination', '  - name: request-termination'));
  t.same(errs, ["kong.yml:4:5: plugins[1]: uniqueness violation: plugin 'request-termination' is already configured on the same scope at plugins[0]"]);
});

t.test('JSON files get line numbers too', async (t) => {
  const text = '{\n  "_format_version": "3.0",\n  "services": [\n    {"name": "a", "host": "x", "port": -1}\n  ]\n}\n';
  t.same(errorsOf(text, 'kong.json'), ['kong.json:4:40: services[0].port: value should be between 0 and 65535']);
});

t.test('alias bombs and deep nesting are refused', async (t) => {
  const bomb = ['_format_version: "3.0"', 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
  for (let i = 0; i < 8; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`);
  const errs = errorsOf(yaml(...bomb));
  t.match(errs[0], /alias/i);
  const deep = `${head}\n_ignore: ${'['.repeat(200)}${']'.repeat(200)}\n`;
  t.match(errorsOf(deep)[0], /nesting deeper than 64 levels/);
});

t.test('YAML 1.1 booleans, as Kong reads them', async (t) => {
  t.same(errorsOf(yaml(head, 'services:', '  - name: a', '    host: x', '    enabled: no')), []);
});
