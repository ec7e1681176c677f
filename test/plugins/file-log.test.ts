import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { errorsOf } from '../helpers/config';
import { waitFor, writeByRename } from '../helpers/wait';

// Cases after Kong's spec/03-plugins/04-file-log/01-log_spec.lua and 02-schema_spec.lua.
const SPEC = 'spec/03-plugins/04-file-log/01-log_spec.lua';
const SCHEMA_SPEC = 'spec/03-plugins/04-file-log/02-schema_spec.lua';

let gw: RunningGateway;
let upstream: Upstream;
const dir = mkdtempSync(join(tmpdir(), 'file-log-'));
const file = (name: string) => join(dir, name);

/** The entries in `path` so far, parsed. */
const entries = (path: string): any[] =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
const uuidsIn = (path: string) => entries(path).map((e) => e.request.headers['file-log-uuid']);

async function send(host: string, uuid: string) {
  const res = await request(gw.proxyPort, '/status/200', { headers: { host, 'file-log-uuid': uuid } });
  if (res.status !== 200) throw new Error(`${host}: status ${res.status}`);
}

t.before(async () => {
  upstream = await startUpstream();
  mkdirSync(file('a-directory'));
  gw = await startGateway(
    configWith(file('moved-before.log')),
    // Log plugins run without an access log or metrics too.
    { args: ['--access-log', 'off', '--no-metrics'] },
  );
});

const route = (name: string, config: object) => ({ name, hosts: [`${name}.test`], service: 'echo', plugins: [{ name: 'file-log', config }] });
/** The test's config; `moved` is the path of the route whose file changes on a reload. */
const configWith = (moved: string) =>
    JSON.stringify({
      _format_version: '3.0',
      services: [{ name: 'echo', url: `http://127.0.0.1:${upstream.port}` }],
      routes: [
        route('moved', { path: moved }),
        route('kept', { path: file('kept.log') }),
        route('reopened', { path: file('reopened.log'), reopen: true }),
        route('rotated', { path: file('rotated.log'), reopen: true }),
        route('no-dir', { path: file('missing/dir/x.log') }),
        route('is-dir', { path: file('a-directory') }),
      ],
    });
t.teardown(async () => {
  await gw.stop();
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

t.test(`${SPEC}: logs to file`, async (t) => {
  await send('kept.test', 'first');
  const [entry] = await waitFor('the line', () => (entries(file('kept.log')).length === 1 ? entries(file('kept.log')) : undefined));
  t.equal(entry.request.headers['file-log-uuid'], 'first');
  t.equal(entry.response.status, 200);
  t.equal(entry.route.name, 'kept');
  t.equal(entry.source, 'upstream');
});

t.test(`${SPEC}: reopens file on each request`, async (t) => {
  const path = file('reopened.log');
  await send('reopened.test', 'uuid1');
  await waitFor('uuid1', () => (uuidsIn(path).includes('uuid1') ? true : undefined));
  rmSync(path);
  await send('reopened.test', 'uuid2');
  await send('reopened.test', 'uuid3');
  await waitFor('uuid2 and uuid3', () => (uuidsIn(path).length === 2 ? true : undefined));
  t.same(uuidsIn(path), ['uuid2', 'uuid3'], 'the file was created again, without the first request');
});

t.test('reopen: a file moved away by logrotate is followed by a new one at the path', async (t) => {
  const path = file('rotated.log');
  await send('rotated.test', 'before');
  await waitFor('before', () => (uuidsIn(path).includes('before') ? true : undefined));
  renameSync(path, `${path}.1`);
  await send('rotated.test', 'after');
  await waitFor('after', () => (uuidsIn(path).includes('after') ? true : undefined));
  t.same(uuidsIn(`${path}.1`), ['before']);
  t.same(uuidsIn(path), ['after']);
});

t.test(`${SPEC}: logs are lost if reopen = false and the file is removed (they go to the removed file)`, async (t) => {
  const path = file('kept.log');
  rmSync(path);
  await send('kept.test', 'after-removal');
  // The descriptor the gateway keeps open still names the removed file: its lines are readable through /proc.
  const fdDir = `/proc/${gw.proc.pid}/fd`;
  const removed = await waitFor('the line in the removed file', () => {
    for (const fd of readdirSync(fdDir)) {
      let target: string;
      try {
        target = readlinkSync(join(fdDir, fd));
      } catch {
        continue;
      }
      if (target === `${path} (deleted)` && readFileSync(join(fdDir, fd), 'utf8').includes('after-removal')) return true;
    }
    return undefined;
  });
  t.ok(removed);
  t.notOk(existsSync(path), 'the path is not created again');
});

t.test(`${SPEC}: does not create log file if directory doesn't exist`, async (t) => {
  await send('no-dir.test', 'x');
  await waitFor('the error', () => (/failed to open the file: ENOENT/.test(gw.logs()) ? true : undefined));
  t.notOk(existsSync(file('missing')));
});

t.test(`${SPEC}: the given path is not a file but a directory`, async (t) => {
  await send('is-dir.test', 'x');
  await waitFor('the error', () => (/failed to open the file: EISDIR/.test(gw.logs()) ? true : undefined));
  t.pass();
});

t.test('spec/03-plugins/03-http-log/01-log_spec.lua: puts changed configuration into effect immediately (here on file-log)', async (t) => {
  await send('moved.test', 'old');
  await waitFor('old', () => (uuidsIn(file('moved-before.log')).includes('old') ? true : undefined));
  writeByRename(gw.configFile, configWith(file('moved-after.log')));
  await waitFor('the reload', () => (gw.logs().includes('"msg":"config reloaded"') ? true : undefined));
  await send('moved.test', 'new');
  await waitFor('new', () => (uuidsIn(file('moved-after.log')).includes('new') ? true : undefined));
  t.same(uuidsIn(file('moved-before.log')), ['old']);
  t.same(uuidsIn(file('moved-after.log')), ['new']);
});

const config = (pluginConfig: object) => JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'file-log', config: pluginConfig }] });

t.test(`${SCHEMA_SPEC}: path is required and must be a valid filename; custom_fields_by_lua is refused`, async (t) => {
  t.same(errorsOf(config({ path: '/tmp/log.txt' })), []);
  t.match(errorsOf(config({})), [/config\.path: .*required/]);
  t.match(errorsOf(config({ path: '/tmp/bad*name' })), [/config\.path: .*not a valid filename/]);
  t.match(errorsOf(config({ path: ' /tmp/leading-space' })), [/config\.path: .*not a valid filename/]);
  t.match(errorsOf(config({ path: '/tmp/log.txt', custom_fields_by_lua: { a: 'return 1' } })), [/custom_fields_by_lua: Lua code is not supported/]);
});
