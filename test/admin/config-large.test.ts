import t from 'tap';
import { createHash } from 'node:crypto';
import { request } from '../helpers/http';
import { startGateway } from '../helpers/cli';
import { answering, keyedConsumers } from '../helpers/config';

// The attack as it was made: a valid 4 MB config (52,000 consumers with a key each) posted to the Admin API.
// Checked in the serving thread, it held every proxied request for seconds; a file of that size was already
// checked away from it. A posted config of 256 KB or more now takes the same way.
const CONSUMERS = 52_000;
// The check runs behind the requests served, at a lower priority: on a busy machine it takes a while.
t.setTimeout(300_000);

t.test('a large posted config is checked away from the event loop: the proxy keeps answering meanwhile', { timeout: 280_000 }, async (t) => {
  const gw = await startGateway(answering('file'), { args: ['--access-log', 'off'] });
  t.teardown(() => gw.stop());
  const text = keyedConsumers('posted', CONSUMERS);

  // One client, a request every 5 ms (each after the one before was answered); those answered after the whole
  // config was sent and before it was answered are counted.
  let sent = false;
  let pending = true;
  let answeredMeanwhile = 0;
  const outcomes = new Set<string>();
  const client = (async () => {
    while (pending) {
      const r = await request(gw.proxyPort, '/');
      if (sent && pending) answeredMeanwhile++;
      outcomes.add(r.status === 200 ? `200 ${r.body}` : String(r.status));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  const posted = await request(gw.adminPort!, '/config', { method: 'POST', headers: { 'Content-Type': 'text/yaml' }, body: text, onSent: () => (sent = true) });
  pending = false;
  await client;

  t.equal(posted.status, 201);
  const created = posted.json();
  t.equal(Object.keys(created.consumers).length, CONSUMERS, 'the answer has every consumer by id');
  t.equal(Object.keys(created.keyauth_credentials).length, CONSUMERS, 'and every key');
  t.ok(answeredMeanwhile > 50, `the proxy kept answering while the config was checked (${answeredMeanwhile} answers)`);
  t.ok(
    [...outcomes].every((o) => o === '200 file' || o === '401'),
    `each answer came from the old config (200) or the new one (401: no key) (${[...outcomes].join(', ')})`,
  );
  t.equal((await request(gw.proxyPort, '/', { headers: { apikey: `posted-key-${CONSUMERS - 1}` } })).body, 'posted', 'the posted config is live');
  const status = (await request(gw.adminPort!, '/status')).json();
  t.equal(status.configuration_hash, createHash('md5').update(text).digest('hex'));
  const [line] = gw
    .logs()
    .split('\n')
    .filter((l) => l.includes('"msg":"config reloaded","source":"admin"'))
    .map((l) => JSON.parse(l));
  t.match(line, { consumers: CONSUMERS, credentials: CONSUMERS });
});

