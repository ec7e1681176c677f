import t from 'tap';
import { runCli, startGateway } from '../helpers/cli';
import { request, type Reply } from '../helpers/http';
import { count, waitFor, writeByRename } from '../helpers/wait';
import { keyedConsumers } from '../helpers/config';

/** 10,000 consumers with one key each (about 1 MB, loaded off the event loop); the route answers `version`. */
const CONSUMERS = 10_000;
const largeConfig = (version: string) => keyedConsumers(version, CONSUMERS);

t.test('a large config reloads under a steady trickle of requests: every request answered, then the new config', async (t) => {
  const gw = await startGateway(largeConfig('v1'), { args: ['--access-log', 'off'], startTimeoutMs: 60_000 });
  t.teardown(() => gw.stop());
  const ask = (key: string) => request(gw.proxyPort, '/', { headers: { apikey: key } });
  t.equal((await ask('v1-key-9999')).body, 'v1');

  // A request every 5 ms with the old config's keys, from before the edit until well after the reload.
  const replies: Array<Promise<Reply>> = [];
  let trickling = true;
  const trickle = (async () => {
    for (let i = 0; trickling; i++) {
      replies.push(ask(`v1-key-${(i * 7919) % CONSUMERS}`));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await new Promise((r) => setTimeout(r, 200));
  writeByRename(gw.configFile, largeConfig('v2'));
  await waitFor('the reload to be logged', () => (count(gw.logs(), /"msg":"config reloaded"/) > 0 ? true : undefined), 60_000);
  await new Promise((r) => setTimeout(r, 200));
  trickling = false;
  await trickle;

  const answered = await Promise.all(replies);
  t.ok(answered.length > 20, `requests kept coming during the reload (${answered.length})`);
  const outcomes = answered.map((r) => (r.status === 200 ? `200 ${r.body}` : String(r.status)));
  t.ok(outcomes.every((o) => o === '200 v1' || o === '401'), 'every request answered, by the old config (200) or the new one (401: an old key)');
  t.equal(outcomes[0], '200 v1', 'the old config answered first');
  t.equal(outcomes[outcomes.length - 1], '401', 'the new config answered last');

  t.equal((await ask('v2-key-9999')).body, 'v2', 'the new keys are accepted');
  t.equal((await ask('v2-key-0')).body, 'v2');
  t.equal((await ask('v1-key-9999')).status, 401, 'the old keys are gone');
  const [line] = gw.logs().split('\n').filter((l) => l.includes('"msg":"config reloaded"')).map((l) => JSON.parse(l));
  t.match(line, { source: 'file', consumers: CONSUMERS, credentials: CONSUMERS });
  t.equal(gw.proc.exitCode, null, 'the process stays up');
});

t.test('a large config with an error is rejected with the messages of `gateway validate`; the old one keeps serving', async (t) => {
  const gw = await startGateway(largeConfig('v1'), { args: ['--access-log', 'off'], startTimeoutMs: 60_000 });
  t.teardown(() => gw.stop());
  // Two errors deep in the file: a consumer with neither username nor custom_id, and a key given twice.
  const broken = largeConfig('v2').replace('  - username: user-9000\n', '  - tags: [x]\n').replace('v2-key-9001}', 'v2-key-9002}');
  writeByRename(gw.configFile, broken);
  await waitFor('the rejection to be logged', () => (count(gw.logs(), /"msg":"config rejected/) > 0 ? true : undefined), 60_000);
  const [line] = gw.logs().split('\n').filter((l) => l.includes('"msg":"config rejected')).map((l) => JSON.parse(l));
  const expected = runCli(['validate', gw.configFile]).stderr.trim().split('\n');
  t.equal(expected.length, 2, 'validate reports both errors');
  t.same(line.errors, expected, 'the same file, line, column, field path and message as validate');
  t.notMatch(line.errors.join('\n'), /v2-key-9002/, 'the repeated key is not shown');
  t.equal((await request(gw.proxyPort, '/', { headers: { apikey: 'v1-key-9000' } })).body, 'v1', 'the old config keeps serving');
});
