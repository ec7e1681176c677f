import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from '../helpers/http';
import { startGateway } from '../helpers/cli';

// `npm pack` makes a tarball with only what a user needs; `npm install -g` of it puts a working `gateway` on the
// PATH. The tarball is made from the built dist/ (the test command builds first), without running `prepare`.
const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; license: string };

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env, timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('npm pack holds what a user needs and nothing else, and installs a working gateway', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-pack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
  t.equal(packed.status, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const files = info.files.map((f) => f.path);
  for (const needed of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin/gateway', 'dist/cli/index.js', 'schemas/kong.schema.json', 'kong.yml', 'docs/getting-started.md']) {
    t.ok(files.includes(needed), `the tarball holds ${needed}`);
  }
  t.same(files.filter((f) => /^(test|bench|soak|src|node_modules|\.ci)\//.test(f) || f.endsWith('.map')), [], 'no tests, bench, soak, sources or maps');
  t.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), pkg.license === 'Apache-2.0' ? /Apache License\s+Version 2\.0/ : new RegExp(pkg.license), 'LICENSE matches package.json');

  const prefix = join(dir, 'prefix');
  const installed = npm(['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, info.filename)], dir);
  t.equal(installed.status, 0, installed.stderr);
  const bin = join(prefix, 'bin', 'gateway');
  t.ok(existsSync(bin), 'gateway is in the prefix bin directory');
  const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` };
  const run = (args: string[]) => spawnSync('gateway', args, { cwd: dir, env, encoding: 'utf8', timeout: 30_000 });

  const version = run(['--version']);
  t.equal(version.status, 0, version.stderr);
  t.equal(version.stdout.trim(), pkg.version);

  const bundled = join(prefix, 'lib', 'node_modules', pkg.name, 'kong.yml');
  const valid = run(['validate', bundled]);
  t.equal(valid.status, 0, valid.stderr);

  const gw = await startGateway('', { file: bundled, bin });
  t.teardown(() => gw.stop());
  const hello = await request(gw.proxyPort, '/hello');
  t.equal(hello.status, 200);
  t.same(hello.json(), { hello: 'world' });
});
