// An unknown basic-auth username must cost what a known one with a wrong password does, so response times do not
// tell which usernames exist: its password is checked against a decoy hash, through the same bcrypt pool. Checked
// by what reaches the pool (in process, on the real pool), never by timing.
import t from 'tap';
import type { AddressInfo } from 'node:net';
import bcrypt from 'bcryptjs';
import { ProxyServer } from '../../src/proxy/server';
import { bcryptPool } from '../../src/plugins/basic-auth/bcrypt-pool';
import { request } from '../helpers/http';
import { snapshotOf, yaml } from '../helpers/config';
import { basic } from '../helpers/auth';

const config = (credentials: string[]) =>
  yaml(
    '_format_version: "3.0"',
    'routes:',
    '  - name: basic',
    '    paths: [/]',
    '    plugins: [{name: basic-auth}, {name: request-termination, config: {status_code: 200, message: ok}}]',
    'consumers:',
    '  - username: svc',
    '    basicauth_credentials:',
    ...credentials.map((c) => `      - ${c}`),
  );

const CREDENTIALS = [
  `{username: alice, password: '${bcrypt.hashSync('alice-pw', 5)}'}`,
  `{username: bob, password: '${bcrypt.hashSync('bob-pw', 5)}'}`,
  "{username: plain, password: 'in the clear'}",
];

t.test('the decoy has the cost most stored hashes have, and bcrypt takes it as a real hash', async (t) => {
  const decoy = snapshotOf(config(CREDENTIALS)).basicAuthDecoy;
  t.equal(bcrypt.getRounds(decoy.password), 5, 'two hashes at cost 5, one plaintext (hashed at cost 4)');
  t.equal(bcrypt.compareSync('alice-pw', decoy.password), false);
  t.equal(bcrypt.getRounds(snapshotOf(config([...CREDENTIALS, "{username: p2, password: 'x'}"])).basicAuthDecoy.password), 5, 'a tie goes to the higher cost');
  const hashes = [4, 4, 4, 6].map((cost, i) => `{username: u${i}, password: '${bcrypt.hashSync('pw', cost)}'}`);
  t.equal(bcrypt.getRounds(snapshotOf(config(hashes)).basicAuthDecoy.password), 4);
});

t.test('an unknown username goes through the pool once, as a wrong password for a known one does', async (t) => {
  const snapshot = snapshotOf(config(CREDENTIALS));
  const proxy = new ProxyServer(snapshot);
  await new Promise<void>((r) => proxy.server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => proxy.server.close(() => r())));
  const port = (proxy.server.address() as AddressInfo).port;

  // The real pool, watched: every check still runs.
  const checked: string[] = [];
  const compare = bcryptPool.compare;
  bcryptPool.compare = function (this: typeof bcryptPool, password: string, hash: string) {
    checked.push(hash);
    return compare.call(this, password, hash);
  };
  t.teardown(() => {
    bcryptPool.compare = compare;
  });
  const ask = async (authorization?: string) => {
    const before = checked.length;
    const r = await request(port, '/', { headers: authorization === undefined ? {} : { authorization } });
    return { status: r.status, checks: checked.slice(before) };
  };

  const unknown = await ask(basic('mallory', 'guess'));
  t.equal(unknown.status, 401);
  t.same(unknown.checks, [snapshot.basicAuthDecoy.password], 'one check, against the decoy');
  const wrong = await ask(basic('alice', 'guess'));
  t.equal(wrong.status, 401);
  t.same(wrong.checks, [snapshot.basicAuthByUsername.get('alice')!.password], 'one check, against her hash');
  t.same((await ask(basic('alice', 'alice-pw'))).status, 200);

  const proxyAuth = await ask(undefined);
  t.same(proxyAuth, { status: 401, checks: [] }, 'no credentials at all: nothing to check');
  t.same(await ask('Basic !!!'), { status: 401, checks: [] }, 'a malformed header: nothing to check');

  // Concurrent requests share a check only with the same username and password, as for a known username: the
  // decoy check is not one shared check per password.
  const together = async (...authorizations: string[]) => {
    const before = checked.length;
    const replies = await Promise.all(authorizations.map((a) => ask(a)));
    return { statuses: replies.map((r) => r.status), checks: checked.length - before };
  };
  t.same(await together(basic('mallory', 'x'), basic('trudy', 'x')), { statuses: [401, 401], checks: 2 }, 'two usernames, two checks');
});
