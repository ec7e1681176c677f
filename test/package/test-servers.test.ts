import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// `npm test` runs scripts/test-servers.sh first: with the servers installed it lets the tests run; without them,
// and no way to install them, it stops before any test with the one command to run.
const SCRIPT = join(__dirname, '..', '..', 'scripts', 'test-servers.sh');
const run = (env: NodeJS.ProcessEnv) => spawnSync('/bin/bash', [SCRIPT], { env, encoding: 'utf8', timeout: 30_000 });

t.test('servers installed: nothing to do, exit 0', async (t) => {
  const r = run(process.env);
  t.equal(r.status, 0, r.stderr);
  t.equal(r.stderr, '');
});

t.test('servers missing and no apt-get: exit 1 with the command to install them', async (t) => {
  const emptyPath = mkdtempSync(join(tmpdir(), 'gateway-nopath-'));
  const r = run({ PATH: emptyPath });
  t.equal(r.status, 1);
  t.match(r.stderr, /The tests need servers that are not installed: .*redis-server/);
  t.match(r.stderr, /^ {2}sudo apt-get install -y .*redis-server.*$/m);
});
