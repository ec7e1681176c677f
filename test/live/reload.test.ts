import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../helpers/http';
import { runCli, startGateway, type RunningGateway } from '../helpers/cli';
import { answering, yaml } from '../helpers/config';
import { count, waitFor, writeByRename } from '../helpers/wait';

const answerOf = async (gw: RunningGateway) => (await request(gw.proxyPort, '/')).body;
const answers = (gw: RunningGateway, body: string, timeoutMs?: number) =>
  waitFor(`the gateway to answer ${body}`, async () => ((await answerOf(gw)) === body ? true : undefined), timeoutMs);
const logged = (gw: RunningGateway, pattern: RegExp, n: number) =>
  waitFor(`${n} log lines matching ${pattern}`, () => (count(gw.logs(), pattern) >= n ? true : undefined));

const ACCEPTED = /"msg":"config reloaded"/;
const REJECTED = /"msg":"config rejected; previous config keeps serving"/;

function logLines(gw: RunningGateway, pattern: RegExp): any[] {
  return gw
    .logs()
    .split('\n')
    .filter((l) => pattern.test(l))
    .map((l) => JSON.parse(l));
}

t.test('a good edit is live within 1 s of the write, with one log line', async (t) => {
  const gw = await startGateway(answering('one'));
  t.teardown(() => gw.stop());
  t.equal(await answerOf(gw), 'one');
  const text = answering('two');
  writeFileSync(gw.configFile, text);
  await answers(gw, 'two', 1000);
  await logged(gw, ACCEPTED, 1);
  const [line] = logLines(gw, ACCEPTED);
  t.match(line, { level: 'info', source: 'file', routes: 1, plugins: 1, services: 0, consumers: 1 });
  t.equal(line.configuration_hash, createHash('md5').update(text).digest('hex'), 'the hash of the new file');
  t.type(line.ms, 'number');
});

t.test('a bad edit is rejected with the messages of `gateway validate`; the old config keeps answering', async (t) => {
  const gw = await startGateway(answering('good'));
  t.teardown(() => gw.stop());
  const bad = {
    'invalid YAML': yaml('_format_version: "3.0"', 'routes: [', '  - {name: x'),
    'schema error': yaml('_format_version: "3.0"', 'services:', '  - name: s', '    port: 99999', '    host: example.test'),
    'dangling reference': yaml('_format_version: "3.0"', 'routes:', '  - name: r', '    service: ghost', '    paths: [/]'),
  };
  let rejected = 0;
  for (const [kind, text] of Object.entries(bad)) {
    writeFileSync(gw.configFile, text);
    await logged(gw, REJECTED, ++rejected);
    const expected = runCli(['validate', gw.configFile]).stderr.trim().split('\n');
    t.ok(expected.length > 0 && expected[0].startsWith(`${gw.configFile}:`), `${kind}: validate reports FILE:LINE:COL`);
    t.same(logLines(gw, REJECTED)[rejected - 1].errors, expected, `${kind}: the log carries the same lines as validate`);
    t.equal(await answerOf(gw), 'good', `${kind}: the old config keeps answering`);
    t.equal(gw.proc.exitCode, null, `${kind}: the process stays up`);
  }
  writeFileSync(gw.configFile, answering('fixed'));
  await answers(gw, 'fixed');
  t.equal(count(gw.logs(), ACCEPTED), 1);
});

t.test('a deleted file is a rejected reload; the file coming back goes live', async (t) => {
  const gw = await startGateway(answering('here'));
  t.teardown(() => gw.stop());
  unlinkSync(gw.configFile);
  await logged(gw, REJECTED, 1);
  t.match(logLines(gw, REJECTED)[0].errors, [/cannot read file \(ENOENT\)/]);
  t.equal(await answerOf(gw), 'here');
  writeFileSync(gw.configFile, answering('back'));
  await answers(gw, 'back');
});

t.test('rename-style writes: write-then-rename (git, most tools) and move-away-then-write (vim)', async (t) => {
  const gw = await startGateway(answering('v1'));
  t.teardown(() => gw.stop());
  writeByRename(gw.configFile, answering('v2'));
  await answers(gw, 'v2');
  renameSync(gw.configFile, `${gw.configFile}~`);
  writeFileSync(gw.configFile, answering('v3'));
  unlinkSync(`${gw.configFile}~`);
  await answers(gw, 'v3');
  writeByRename(gw.configFile, answering('v4'));
  await answers(gw, 'v4');
});

t.test('Kubernetes ConfigMap updates: the ..data symlink is swapped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-configmap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The layout the kubelet mounts: kong.yml -> ..data/kong.yml, ..data -> ..<timestamp>
  const publish = (version: number, text: string) => {
    const stamp = `..2024_01_01_00_00_0${version}`;
    mkdirSync(join(dir, stamp));
    writeFileSync(join(dir, stamp, 'kong.yml'), text);
    symlinkSync(stamp, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    return stamp;
  };
  let old = publish(1, answering('cm1'));
  symlinkSync('..data/kong.yml', join(dir, 'kong.yml'));
  const gw = await startGateway('', { file: join(dir, 'kong.yml') });
  t.teardown(() => gw.stop());
  t.equal(await answerOf(gw), 'cm1');
  for (const version of [2, 3]) {
    const stamp = publish(version, answering(`cm${version}`));
    rmSync(join(dir, old), { recursive: true });
    old = stamp;
    await answers(gw, `cm${version}`);
  }
});

t.test('an unchanged file is not reloaded', async (t) => {
  const text = answering('same');
  const gw = await startGateway(text);
  t.teardown(() => gw.stop());
  writeFileSync(gw.configFile, text);
  writeByRename(gw.configFile, text);
  await new Promise((r) => setTimeout(r, 500)); // generous: well past the debounce
  writeFileSync(gw.configFile, answering('different'));
  await answers(gw, 'different');
  await logged(gw, ACCEPTED, 1);
  t.equal(count(gw.logs(), ACCEPTED), 1, 'only the changed content was loaded');
});

t.test('SIGHUP reloads the file even when unchanged, and brings the file back after POST /config', async (t) => {
  const gw = await startGateway(answering('from-file'));
  t.teardown(() => gw.stop());
  gw.proc.kill('SIGHUP');
  await logged(gw, ACCEPTED, 1);
  t.match(logLines(gw, ACCEPTED)[0], { source: 'signal' });

  const posted = await request(gw.adminPort!, '/config', { method: 'POST', headers: { 'Content-Type': 'text/yaml' }, body: answering('from-admin') });
  t.equal(posted.status, 201);
  t.equal(await answerOf(gw), 'from-admin');

  gw.proc.kill('SIGHUP');
  await answers(gw, 'from-file');
  t.equal(readFileSync(gw.configFile, 'utf8'), answering('from-file'));

  writeFileSync(gw.configFile, 'services: [');
  await logged(gw, REJECTED, 1);
  gw.proc.kill('SIGHUP');
  await logged(gw, REJECTED, 2);
  t.match(logLines(gw, REJECTED)[1], { source: 'signal' });
  t.equal(await answerOf(gw), 'from-file', 'a bad file on SIGHUP keeps the old config too');
  t.equal(gw.proc.exitCode, null);
});
