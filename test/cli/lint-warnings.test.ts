// How lint warnings reach people: validate's text and JSON, --strict, and one log line when the gateway starts.
import t from 'tap';
import { request } from '../helpers/http';
import { runCli, startGateway, tempFile } from '../helpers/cli';
import { yaml } from '../helpers/config';

const CONFIG = yaml(
  '_format_version: "3.0"',
  'consumers: [{username: guest}]',
  'routes:',
  '  - name: open',
  '    paths: [/open]',
  '    plugins: [{name: key-auth, config: {anonymous: guest}}]',
  '  - name: hello',
  '    paths: [/hello]',
  '    plugins: [{name: request-termination, config: {status_code: 200, message: hi}}]',
);
const OPEN =
  "routes[0]: route 'open' is reachable without credentials: 'key-auth' (routes[0].plugins[0]) lets callers through as consumer 'guest', and nothing stops that consumer; if that is not meant, add a request-termination on it or an acl that denies it";

t.test('validate prints FILE:LINE:COL: warning: path: message, still valid; --strict makes it invalid', async (t) => {
  const file = tempFile('kong.yml', CONFIG);
  const r = runCli(['validate', file]);
  t.equal(r.status, 0);
  t.equal(r.stderr, `${file}:4:5: warning: ${OPEN}\n`);
  t.equal(r.stdout, `${file}: valid\n`);
  const strict = runCli(['validate', '--strict', file]);
  t.equal(strict.status, 1);
  t.equal(strict.stderr, r.stderr);
  t.equal(strict.stdout, '');
  const json = JSON.parse(runCli(['validate', '--strict', '--format', 'json', file]).stdout);
  t.equal(json.valid, false);
  t.same(json.issues, [{ file, line: 4, col: 5, path: 'routes[0]', message: OPEN.slice('routes[0]: '.length), severity: 'warning' }]);
});

t.test('warnings do not stop the gateway; it logs them once when it starts', async (t) => {
  const gw = await startGateway(CONFIG);
  t.teardown(() => gw.stop());
  t.equal((await request(gw.proxyPort, '/hello')).status, 200);
  const lines = gw.logs().trim().split('\n').map((l) => JSON.parse(l));
  const warned = lines.filter((l) => l.msg === 'config warnings');
  t.equal(warned.length, 1);
  t.equal(warned[0].level, 'warn');
  t.same(warned[0].warnings, [`${gw.configFile}:4:5: warning: ${OPEN}`]);
});

t.test('a file with many warnings logs the first 20 in full and how many there were, not a line of every one', async (t) => {
  const consumers = Array.from({ length: 25 }, (_, i) => `  - {username: u${i}, keyauth_credentials: [{key: short-${i}}]}`);
  const gw = await startGateway(yaml('_format_version: "3.0"', 'consumers:', ...consumers));
  t.teardown(() => gw.stop());
  const warned = gw.logs().trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.msg === 'config warnings');
  t.equal(warned.length, 1);
  t.equal(warned[0].warnings.length, 20);
  t.match(warned[0].warnings[0], /consumers\[0\]\.keyauth_credentials\[0\]\.key/);
  t.match(warned[0].warnings[19], /consumers\[19\]\.keyauth_credentials\[0\]\.key/);
  t.equal(warned[0].warnings_total, 25);
  t.equal(warned[0].more, `5 more; \`gateway validate ${gw.configFile}\` lists them all`);
  t.notMatch(JSON.stringify(warned[0]), /short-\d/, 'the keys themselves are not logged');
});
