import t from 'tap';
import { request, startUpstream, type Upstream } from '../helpers/http';
import { startGateway, type RunningGateway } from '../helpers/cli';
import { yaml } from '../helpers/config';
import { basic } from '../helpers/auth';

// The seed "Allowing multiple authentication methods", with its own ids, keys, passwords, requests and answers.
const ANONYMOUS = 'd955c0cb-1a6e-4152-9440-414ebb8fee8a';
const MEDVEZHONOK = 'b3c95318-a932-4bb2-9d74-1298a3ffc87c';
const EZHIK = '47e74a17-dc08-4786-a8cf-d8e4f38a5459';
const UA = { 'User-Agent': 'curl/7.58.0', Host: 'example.com:8000' };

let upstream: Upstream;

t.before(async () => {
  // httpbin's /user-agent, as in the seed.
  upstream = await startUpstream((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(req.url === '/user-agent' ? `{"user-agent": "${req.headers['user-agent']}"}` : JSON.stringify({ url: req.url, headers: req.headers }));
  });
});
t.teardown(() => upstream.close());

function seedConfig(withTermination: boolean, extra: string[] = []): string {
  return yaml(
    '_format_version: "3.0"',
    'services:',
    '  - name: example-api',
    `    url: http://127.0.0.1:${upstream.port}`,
    '    routes: [{name: example-route, hosts: [example.com], paths: [/]}]',
    '    plugins:',
    `      - {name: key-auth, config: {hide_credentials: true, anonymous: ${ANONYMOUS}}}`,
    `      - {name: basic-auth, config: {hide_credentials: true, anonymous: ${ANONYMOUS}}}`,
    'consumers:',
    `  - {username: anonymous, id: ${ANONYMOUS}}`,
    `  - {username: medvezhonok, id: ${MEDVEZHONOK}}`,
    `  - {username: ezhik, id: ${EZHIK}}`,
    'basicauth_credentials: [{consumer: medvezhonok, username: medvezhonok, password: hunter2}]',
    'keyauth_credentials: [{consumer: ezhik, key: hunter3}]',
    ...(withTermination
      ? [
          'plugins:',
          `  - name: request-termination`,
          `    consumer: ${ANONYMOUS}`,
          '    config: {status_code: 401, content_type: "application/json; charset=utf-8", body: "{\\"error\\": \\"Authentication required\\"}"}',
        ]
      : []),
    ...extra,
  );
}

t.test('seed: with an anonymous fallback, requests without valid credentials are allowed', async (t) => {
  const gw = await startGateway(seedConfig(false));
  t.teardown(() => gw.stop());
  for (const path of ['/user-agent', '/user-agent?apikey=nonsense']) {
    const r = await request(gw.proxyPort, path, { headers: UA });
    t.equal(r.status, 200, path);
    t.equal(r.body, '{"user-agent": "curl/7.58.0"}');
  }
});

t.test('seed: a request-termination on the anonymous consumer forbids anonymous access', async (t) => {
  const gw = await startGateway(seedConfig(true));
  t.teardown(() => gw.stop());
  const before = upstream.seen.length;
  for (const path of ['/user-agent?apikey=nonsense', '/user-agent']) {
    const r = await request(gw.proxyPort, path, { headers: UA });
    t.equal(r.status, 401, path);
    t.equal(r.body, '{"error": "Authentication required"}');
    t.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  }
  t.equal(upstream.seen.length, before, 'nothing reached the upstream');

  const key = await request(gw.proxyPort, '/user-agent?apikey=hunter3', { headers: UA });
  t.equal(key.status, 200);
  t.equal(key.body, '{"user-agent": "curl/7.58.0"}');
  let seen = upstream.seen[upstream.seen.length - 1];
  t.equal(seen.headers['x-consumer-id'], EZHIK);
  t.equal(seen.url, '/user-agent', 'hide_credentials took the key off the query string');

  const user = await request(gw.proxyPort, '/user-agent', { headers: { ...UA, Authorization: basic('medvezhonok', 'hunter2') } });
  t.equal(user.status, 200);
  t.equal(user.body, '{"user-agent": "curl/7.58.0"}');
  seen = upstream.seen[upstream.seen.length - 1];
  t.equal(seen.headers['x-consumer-id'], MEDVEZHONOK);
  t.equal(seen.headers.authorization, undefined, 'hide_credentials took the Authorization header off');

  const wrong = await request(gw.proxyPort, '/user-agent', { headers: { ...UA, Authorization: basic('medvezhonok', 'hunter3') } });
  t.equal(wrong.status, 401);
  t.equal(wrong.body, '{"error": "Authentication required"}');
});

t.test('OR mode: with both credentials, the first plugin to succeed (key-auth, higher priority) sets the consumer', async (t) => {
  const gw = await startGateway(seedConfig(true));
  t.teardown(() => gw.stop());
  const r = await request(gw.proxyPort, '/?apikey=hunter3', { headers: { ...UA, Authorization: basic('medvezhonok', 'hunter2') } });
  t.equal(r.status, 200);
  t.equal(r.json().headers['x-consumer-id'], EZHIK);
  t.equal(r.json().headers['x-anonymous-consumer'], undefined);
  const fallback = await request(gw.proxyPort, '/?apikey=nonsense', { headers: { ...UA, Authorization: basic('medvezhonok', 'hunter2') } });
  t.equal(fallback.status, 200, 'a wrong key falls back to anonymous, then basic-auth identifies the client');
  t.equal(fallback.json().headers['x-consumer-id'], MEDVEZHONOK);
  t.equal(fallback.json().headers['x-anonymous-consumer'], undefined);
  t.equal(fallback.json().headers['x-credential-identifier'], 'medvezhonok');
});

t.test('AND mode: every auth plugin must pass; the last one sets the forwarded credential', async (t) => {
  const gw = await startGateway(
    yaml(
      '_format_version: "3.0"',
      `services: [{name: s, url: "http://127.0.0.1:${upstream.port}", routes: [{name: r, paths: [/]}], plugins: [{name: key-auth}, {name: basic-auth}]}]`,
      `consumers: [{username: medvezhonok, id: ${MEDVEZHONOK}}, {username: ezhik, id: ${EZHIK}}]`,
      'basicauth_credentials: [{consumer: medvezhonok, username: medvezhonok, password: hunter2}]',
      'keyauth_credentials: [{consumer: ezhik, key: hunter3}]',
    ),
  );
  t.teardown(() => gw.stop());
  const keyOnly = await request(gw.proxyPort, '/', { headers: { apikey: 'hunter3' } });
  t.equal(keyOnly.status, 401);
  t.equal(keyOnly.json().message, 'Unauthorized');
  t.equal(keyOnly.headers['www-authenticate'], 'Basic realm="service"');
  const basicOnly = await request(gw.proxyPort, '/', { headers: { Authorization: basic('medvezhonok', 'hunter2') } });
  t.equal(basicOnly.status, 401);
  t.equal(basicOnly.json().message, 'No API key found in request');
  const both = await request(gw.proxyPort, '/', { headers: { apikey: 'hunter3', Authorization: basic('medvezhonok', 'hunter2') } });
  t.equal(both.status, 200);
  const h = both.json().headers;
  t.equal(h['x-consumer-id'], MEDVEZHONOK, 'basic-auth ran last');
  t.equal(h['x-credential-identifier'], 'medvezhonok');
  t.equal(h['x-anonymous-consumer'], undefined);
  const wrongSecond = await request(gw.proxyPort, '/', { headers: { apikey: 'hunter3', Authorization: basic('medvezhonok', 'nope') } });
  t.equal(wrongSecond.status, 401);
});

t.test("consumer-scoped plugins apply once the consumer is identified, with Kong's precedence", async (t) => {
  const gw = await startGateway(
    seedConfig(true, [
      '  - {name: request-termination, consumer: ezhik, config: {status_code: 418, message: ezhik everywhere}}',
      '  - {name: request-termination, consumer: ezhik, route: vip, config: {status_code: 200, message: ezhik on vip}}',
      '  - {name: request-termination, route: vip, config: {status_code: 403, message: vip only}}',
      'routes:',
      '  - {name: vip, service: example-api, hosts: [example.com], paths: [/vip]}',
    ]),
  );
  t.teardown(() => gw.stop());
  const everywhere = await request(gw.proxyPort, '/?apikey=hunter3', { headers: UA });
  t.equal(everywhere.status, 418);
  t.equal(everywhere.json().message, 'ezhik everywhere');
  const vip = await request(gw.proxyPort, '/vip?apikey=hunter3', { headers: UA });
  t.equal(vip.status, 200, 'route+consumer beats consumer and route');
  t.equal(vip.json().message, 'ezhik on vip');
  const other = await request(gw.proxyPort, '/vip', { headers: { ...UA, Authorization: basic('medvezhonok', 'hunter2') } });
  t.equal(other.status, 403);
  t.equal(other.json().message, 'vip only');
  const anonymous = await request(gw.proxyPort, '/vip', { headers: UA });
  t.equal(anonymous.status, 401, 'consumer beats route: the anonymous consumer is stopped on every route');
  t.equal(anonymous.body, '{"error": "Authentication required"}');
});
