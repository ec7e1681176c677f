import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { PLUGINS } from '../../src/plugins';

// Supabase's gateway file as published (../shared/corpus/kong/, read in place), served with every service pointed at
// one loopback upstream: only the hosts of the services' URLs are rewritten, in memory.
const FILE = join(corpusDir(), 'elestio-examples__supabase__volumes_api_kong.yml');
const ANON_KEY = '$SUPABASE_ANON_KEY'; // the file's keys are placeholders, taken literally

/** The corpus beside the checkout (../shared/corpus/kong/), found upwards (a worktree sits one level deeper). */
function corpusDir(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'shared', 'corpus', 'kong');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('shared/corpus/kong not found above the checkout');
}

let gw: RunningGateway;
let upstream: Upstream;

t.before(async () => {
  if (!PLUGINS.has('cors')) return;
  upstream = await startUpstream();
  const text = readFileSync(FILE, 'utf8').replace(/^(\s*url: http:\/\/)[^/:\s]+(?::\d+)?/gm, `$1127.0.0.1:${upstream.port}`);
  gw = await startGateway(text);
});
t.teardown(async () => {
  await gw?.stop();
  await upstream?.close();
});

t.test("the Supabase file serves its request-transformer rule (graphql-v1: add Content-Profile)", { skip: PLUGINS.has('cors') ? false : 'the file needs the cors plugin' }, async (t) => {
  const before = upstream.seen.length;
  const r = await request(gw.proxyPort, '/graphql/v1', {
    method: 'POST',
    headers: { apikey: ANON_KEY, 'content-type': 'application/json' },
    body: '{"query":"{ __typename }"}',
  });
  t.equal(r.status, 200, r.body);
  const seen = upstream.seen[before];
  t.equal(seen.url, '/rpc/graphql', 'strip_path and the service path');
  t.equal(seen.headers['content-profile'], 'graphql_public', 'request-transformer added the header');
  t.equal(seen.headers['apikey'], undefined, 'key-auth hid the key');
  t.equal(seen.headers['x-consumer-username'], 'anon');
  t.equal(seen.body, '{"query":"{ __typename }"}');

  const own = await request(gw.proxyPort, '/graphql/v1', { headers: { apikey: ANON_KEY, 'content-profile': 'other' } });
  t.equal(own.status, 200);
  t.equal(upstream.seen[upstream.seen.length - 1].headers['content-profile'], 'other', "add keeps the client's own value");

  const count = upstream.seen.length;
  const refused = await request(gw.proxyPort, '/graphql/v1', { method: 'POST' });
  t.equal(refused.status, 401, 'key-auth runs before request-transformer');
  t.equal(upstream.seen.length, count);

  const rest = await request(gw.proxyPort, '/rest/v1/todos', { headers: { apikey: ANON_KEY } });
  t.equal(rest.status, 200);
  t.equal(upstream.seen[upstream.seen.length - 1].headers['content-profile'], undefined, 'only the graphql route has the rule');
});
