import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../helpers/http';
import { runCliAsync, startGateway, type RunningGateway } from '../helpers/cli';
import { answering } from '../helpers/config';
import { count, waitFor, writeByRename } from '../helpers/wait';
import { MAX_CONFIG_BYTES } from '../../src/config/source';

// Config files that are not what they seem: a device that never ends, a FIFO nobody writes to, a file too large
// to check. Each is refused with a message naming it, before anything is read, and a running gateway keeps serving.

const REJECTED = /"msg":"config rejected; previous config keeps serving"/;

function tempDir(t: Tap.Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fifo(dir: string, name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

/** Replaces `file` with a link to `target` in one rename, as the kubelet swaps a ConfigMap's `..data` link. */
function swapToLink(file: string, target: string): void {
  symlinkSync(target, `${file}.link`);
  renameSync(`${file}.link`, file);
}

const answerOf = async (gw: RunningGateway) => (await request(gw.proxyPort, '/')).body;
const rejections = (gw: RunningGateway): string[][] =>
  gw
    .logs()
    .split('\n')
    .filter((l) => REJECTED.test(l))
    .map((l) => JSON.parse(l).errors);

t.test('validate refuses /dev/zero at once instead of reading it forever', async (t) => {
  const r = await runCliAsync(['validate', '/dev/zero']);
  t.equal(r.status, 1);
  t.equal(r.stderr, '/dev/zero:1:1: not a regular file (a character device)\n');
});

t.test('validate refuses a FIFO with no writer instead of waiting for one', async (t) => {
  const path = fifo(tempDir(t), 'kong.yml');
  const r = await runCliAsync(['validate', path]);
  t.equal(r.status, 1);
  t.equal(r.stderr, `${path}:1:1: not a regular file (a FIFO)\n`);
});

t.test('routes and a start refuse a link to /dev/zero too; a link to a regular file is followed', async (t) => {
  const dir = tempDir(t);
  const zero = join(dir, 'zero.yml');
  symlinkSync('/dev/zero', zero);
  const routes = await runCliAsync(['routes', '-c', zero]);
  t.equal(routes.status, 1);
  t.match(routes.stderr, `${zero}:1:1: not a regular file (a character device)`);
  const start = await runCliAsync(['start', '-c', zero, '--proxy-listen', '127.0.0.1:0', '--admin-listen', 'off']);
  t.equal(start.status, 1);
  t.match(start.stderr, 'not a regular file (a character device)');

  const real = join(dir, 'real.yml');
  writeFileSync(real, answering('linked'));
  const linked = join(dir, 'linked.yml');
  symlinkSync(real, linked);
  t.equal((await runCliAsync(['validate', linked])).status, 0);
});

t.test('a file over the size limit is refused from its size, before it is read, naming the limit', async (t) => {
  const path = join(tempDir(t), 'kong.yml');
  // Sparse: as large as it says, without the disk space.
  const fd = openSync(path, 'w');
  ftruncateSync(fd, MAX_CONFIG_BYTES + 1);
  closeSync(fd);
  const r = await runCliAsync(['validate', path]);
  t.equal(r.status, 1);
  t.match(r.stderr, new RegExp(`^${path}:1:1: file is too large \\([0-9.]+ MB; the limit is ${MAX_CONFIG_BYTES / 1024 / 1024} MB\\)\n$`));
});

t.test('a running gateway whose file becomes a link to /dev/zero, then a FIFO, keeps serving; a good edit still loads', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'kong.yml');
  writeFileSync(file, answering('good'));
  const gw = await startGateway('', { file });
  t.teardown(() => gw.stop());

  swapToLink(file, '/dev/zero');
  await waitFor('the link to /dev/zero to be rejected', () => (rejections(gw).length >= 1 ? true : undefined));
  t.same(rejections(gw)[0], [`${file}:1:1: not a regular file (a character device)`]);
  t.equal(await answerOf(gw), 'good', 'the old config keeps serving');

  const pipe = fifo(dir, 'pipe');
  swapToLink(file, pipe);
  await waitFor('the link to a FIFO to be rejected', () => (rejections(gw).length >= 2 ? true : undefined));
  t.same(rejections(gw)[1], [`${file}:1:1: not a regular file (a FIFO)`]);
  // A reload that waited on the FIFO would hold every later one: a SIGHUP is answered too.
  gw.proc.kill('SIGHUP');
  await waitFor('the SIGHUP reload to be rejected', () => (rejections(gw).length >= 3 ? true : undefined));
  t.equal(await answerOf(gw), 'good');

  renameSync(fifo(dir, 'fifo.yml'), file);
  gw.proc.kill('SIGHUP');
  await waitFor('a FIFO in place of the file to be rejected', () => (rejections(gw).length >= 4 ? true : undefined));
  t.same(rejections(gw)[3], [`${file}:1:1: not a regular file (a FIFO)`]);

  writeByRename(file, answering('fixed'));
  await waitFor('the good edit to be served', async () => ((await answerOf(gw)) === 'fixed' ? true : undefined));
  t.equal(count(gw.logs(), /"msg":"config reloaded"/), 1);
  t.equal(gw.proc.exitCode, null, 'the process stayed up');
});
