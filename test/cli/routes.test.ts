import t from 'tap';
import { join } from 'node:path';
import { runCli, tempFile } from '../helpers/cli';
import { yaml } from '../helpers/config';

const FILE = tempFile(
  'kong.yml',
  yaml(
    '_format_version: "3.0"',
    'consumers:',
    '  - username: anon',
    '    plugins: [{name: request-termination, config: {status_code: 401}}]',
    '  - username: guest',
    '    acls: [{group: read}]',
    'services:',
    '  - name: api',
    '    url: http://api.internal',
    '    routes:',
    '      - {name: public, paths: [/public], methods: [GET, HEAD]}',
    '      - {name: keyed, paths: [/keyed], hosts: [api.test, "*.api.test"], plugins: [{name: key-auth}]}',
    '      - {name: basic, paths: [/basic], plugins: [{name: basic-auth}]}',
    '      - {name: both, paths: [/both], plugins: [{name: key-auth}, {name: basic-auth}]}',
    '      - name: either',
    '        paths: [/either]',
    '        plugins: [{name: key-auth, config: {anonymous: anon}}, {name: basic-auth, config: {anonymous: anon}}]',
    '      - {name: guests, paths: [/guests], plugins: [{name: key-auth, config: {anonymous: guest}}]}',
    '      - name: readers',
    '        paths: [/readers]',
    '        plugins: [{name: key-auth, config: {anonymous: guest}}, {name: acl, config: {allow: [write]}}]',
    '      - {name: by-header, headers: {x-tenant: [a]}}',
  ),
);

t.test('gateway routes: one row per route, with its auth and whether callers without credentials get through', async (t) => {
  const r = runCli(['routes', '-c', FILE]);
  t.equal(r.status, 0, r.stderr);
  t.equal(
    r.stdout,
    [
      'NAME       SERVICE  METHODS   HOSTS                PATHS     AUTH                                ANONYMOUS',
      'public     api      GET,HEAD  *                    /public   none                                yes',
      'keyed      api      *         api.test,*.api.test  /keyed    key                                 no: key-auth',
      'basic      api      *         *                    /basic    basic                               no: basic-auth',
      'both       api      *         *                    /both     AND key-auth+basic-auth             no: key-auth',
      'either     api      *         *                    /either   OR+anon key-auth+basic-auth (anon)  no: request-termination 401',
      'guests     api      *         *                    /guests   OR+anon key-auth (guest)            yes, as guest',
      'readers    api      *         *                    /readers  OR+anon key-auth (guest)            no: acl',
      'by-header  api      *         *                    *         none                                yes',
      '',
    ].join('\n'),
  );
});

t.test('gateway routes --format json', async (t) => {
  const rows = JSON.parse(runCli(['routes', '-c', FILE, '--format', 'json']).stdout);
  t.equal(rows.length, 8);
  t.match(rows[4], {
    name: 'either',
    service: 'api',
    paths: ['/either'],
    auth: { mode: 'OR+anon', plugins: ['key-auth', 'basic-auth'], anonymous: 'anon' },
    anonymous_callers: { get_through: false, stopped_by: 'request-termination' },
  });
  t.match(rows[5], { name: 'guests', auth: { mode: 'OR+anon', anonymous: 'guest' }, anonymous_callers: { get_through: true, stopped_by: null } });
  t.match(rows[7], { name: 'by-header', headers: { 'x-tenant': ['a'] }, auth: { mode: 'none', plugins: [], anonymous: null } });
});

t.test('the bundled kong.yml', async (t) => {
  const r = runCli(['routes', '-c', join(__dirname, '..', '..', 'kong.yml')]);
  t.equal(r.status, 0);
  t.match(r.stdout, /\nwhoami +- +\* +\* +\/whoami +OR\+anon key-auth \(guest\) +no: request-termination 200\n/);
});
