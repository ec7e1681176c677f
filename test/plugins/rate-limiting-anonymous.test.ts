// The seed's scenario end to end, from examples/anonymous-rate-limit.yml: anonymous callers get a low rate
// limit, authenticated consumers a higher one. Needs key-auth.
import t from 'tap';
import { join } from 'node:path';
import { request } from '../helpers/http';
import { startGateway } from '../helpers/cli';
import { roomInWindow } from '../helpers/windows';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'anonymous-rate-limit.yml');

t.test('anonymous: 5 a minute; alice: 100 a minute', async (t) => {
  const gw = await startGateway('', { file: EXAMPLE });
  t.teardown(() => gw.stop());
  await roomInWindow('minute', 10_000);
  const get = (headers?: Record<string, string>) => request(gw.proxyPort, '/api', { headers });

  const anonymous: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await get();
    t.equal(r.status, 200);
    t.equal(r.json().message, 'Hello from the API');
    anonymous.push(r.headers['x-ratelimit-remaining-minute'] as string);
  }
  t.same(anonymous, ['4', '3', '2', '1', '0']);
  const refused = await get();
  t.equal(refused.status, 429);
  t.equal(refused.json().message, 'API rate limit exceeded');
  t.equal(refused.headers['x-ratelimit-limit-minute'], '5');
  t.equal((await get({ apikey: 'wrong-key' })).status, 429, 'a bad key is anonymous too');

  const alice = await get({ apikey: 'alice-3e9b7d0f1a6c2845' });
  t.equal(alice.status, 200, 'alice is not held back by the anonymous limit');
  t.equal(alice.headers['x-ratelimit-limit-minute'], '100');
  t.equal(alice.headers['x-ratelimit-remaining-minute'], '99');
});
