import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { checkConfigText } from '../../src/config/load';

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

/**
 * The file needs Kong's file rules: `_comment` on entities, and a service `url` that overrides the `protocol` beside
 * it. Until the gateway has them the test is skipped, with the reason.
 */
function missingFileRules(): string | false {
  try {
    checkConfigText('_format_version: "3.0"\nservices:\n  - name: s\n    _comment: c\n    url: http://h:1/\n    protocol: ws\n', 'probe.yml');
    return false;
  } catch {
    return "the file needs Kong's file rules (_comment, a url beside protocol)";
  }
}
const skip = missingFileRules();

let gw: RunningGateway;
let upstream: Upstream;

t.before(async () => {
  if (skip) return;
  upstream = await startUpstream();
  const text = readFileSync(FILE, 'utf8').replace(/^(\s*url: http:\/\/)[^/:\s]+(?::\d+)?/gm, `$1127.0.0.1:${upstream.port}`);
  gw = await startGateway(text);
});
t.teardown(async () => {
  await gw?.stop();
  await upstream?.close();
});

t.test("the Supabase file serves its request-transformer rule (graphql-v1: add Content-Profile)", { skip }, async (t) => {
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

t.test('the Supabase file serves its cors rules (defaults: any origin; preflights answered by the gateway)', { skip }, async (t) => {
  const before = upstream.seen.length;
  const r = await request(gw.proxyPort, '/graphql/v1', { headers: { apikey: ANON_KEY, origin: 'https://studio.example' } });
  t.equal(r.status, 200);
  t.equal(r.headers['access-control-allow-origin'], '*');
  t.equal(upstream.seen[before].headers['content-profile'], 'graphql_public', 'with the request-transformer rule');

  const count = upstream.seen.length;
  const preflight = await request(gw.proxyPort, '/graphql/v1', {
    method: 'OPTIONS',
    headers: { origin: 'https://studio.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'apikey,content-type' },
  });
  t.equal(preflight.status, 200, 'answered before key-auth asks for a key');
  t.equal(preflight.headers['access-control-allow-origin'], '*');
  t.match(preflight.headers['access-control-allow-methods'], /POST/);
  t.equal(preflight.headers['access-control-allow-headers'], 'apikey,content-type');
  t.equal(upstream.seen.length, count, 'the preflight never reaches the upstream');

  const refused = await request(gw.proxyPort, '/rest/v1/todos', { headers: { origin: 'https://studio.example' } });
  t.equal(refused.status, 401);
  t.equal(refused.headers['access-control-allow-origin'], '*', "cors's headers on key-auth's refusal too");
});
