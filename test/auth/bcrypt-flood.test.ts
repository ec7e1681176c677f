import t from 'tap';
import bcrypt from 'bcryptjs';
import { request, type Reply } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { basic } from '../helpers/auth';

// Real bcrypt costs: 10 is the usual default (~75 ms a check), 12 makes one check last long enough to overlap.
let gw: RunningGateway;

t.before(async () => {
  gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      'routes:',
      '  - name: key',
      '    paths: [/key]',
      '    plugins: [{name: key-auth}, {name: request-termination, config: {status_code: 200, message: key ok}}]',
      '  - name: basic',
      '    paths: [/basic]',
      '    plugins: [{name: basic-auth}, {name: request-termination, config: {status_code: 200, message: basic ok}}]',
      'consumers:',
      '  - username: svc',
      '    keyauth_credentials: [{key: svc-key}]',
      '    basicauth_credentials:',
      `      - {username: victim, password: '${bcrypt.hashSync('right', 10)}'}`,
      `      - {username: regular, password: '${bcrypt.hashSync('known', 10)}'}`,
      `      - {username: crowd, password: '${bcrypt.hashSync('together', 12)}'}`,
    ),
  );
});
t.teardown(() => gw.stop());

t.test('concurrent first requests for one credential share one bcrypt check', async (t) => {
  // 200 at once is far beyond the pending-check bound: they can only all pass if they share one check.
  const replies = await Promise.all(Array.from({ length: 200 }, () => request(gw.proxyPort, '/basic', { headers: { authorization: basic('crowd', 'together') } })));
  t.same([...new Set(replies.map((r) => r.status))], [200]);
});

t.test('a flood of wrong passwords: bounded work, fast refusals, other traffic answered', async (t) => {
  t.equal((await request(gw.proxyPort, '/basic', { headers: { authorization: basic('regular', 'known') } })).status, 200, 'regular is verified once, before the flood');

  const total = 300;
  let done = 0;
  let firstRefusal!: () => void;
  const refused = new Promise<void>((r) => (firstRefusal = r));
  const flood = Array.from({ length: total }, (_, i) =>
    request(gw.proxyPort, '/basic', { headers: { authorization: basic('victim', `guess-${i}`) } }).then((r: Reply) => {
      done++;
      if (r.status === 503) firstRefusal();
      return r;
    }),
  );
  await refused; // the pending-check queue is full from here on

  for (let i = 0; i < 20; i++) {
    const r = await request(gw.proxyPort, '/key', { headers: { apikey: 'svc-key' } });
    t.equal(r.status, 200, `key-auth request ${i} answered during the flood`);
  }
  const cached = await request(gw.proxyPort, '/basic', { headers: { authorization: basic('regular', 'known') } });
  t.equal(cached.status, 200, 'a remembered basic-auth credential needs no bcrypt, so it passes during the flood');
  t.ok(done < total, `key-auth was answered while wrong passwords were still being checked (${done}/${total} done)`);

  const replies = await Promise.all(flood);
  const byStatus = new Map<number, Reply[]>();
  for (const r of replies) byStatus.set(r.status, [...(byStatus.get(r.status) ?? []), r]);
  t.same([...byStatus.keys()].sort(), [401, 503], 'wrong passwords get 401 once checked, 503 when there is no room to check them');
  const busy = byStatus.get(503)![0];
  t.equal(busy.headers['retry-after'], '1');
  t.equal(busy.json().message, 'Too many password checks in progress, retry later');
  t.equal(byStatus.get(401)![0].json().message, 'Unauthorized');

  t.equal((await request(gw.proxyPort, '/basic', { headers: { authorization: basic('victim', 'right') } })).status, 200, 'the right password works once the flood is over');
});

t.test('a flood of unknown usernames is bounded the same way: each one is checked (against a decoy) or refused', async (t) => {
  const replies = await Promise.all(
    Array.from({ length: 300 }, (_, i) => request(gw.proxyPort, '/basic', { headers: { authorization: basic(`nobody-${i}`, `guess-${i}`) } })),
  );
  const statuses = new Set(replies.map((r) => r.status));
  t.same([...statuses].sort(), [401, 503], 'unknown usernames fill the pending checks like wrong passwords: 401 once checked, 503 beyond');
  t.equal(replies.find((r) => r.status === 503)!.headers['retry-after'], '1');
  t.equal((await request(gw.proxyPort, '/basic', { headers: { authorization: basic('victim', 'right') } })).status, 200, 'still serving');
});
