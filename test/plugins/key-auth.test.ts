import t from 'tap';
import { request } from '../helpers/http';
import { benchRoute, startBench, type AuthBench } from '../helpers/auth';

let bench: AuthBench;
let gw: AuthBench['gw'];
let upstream: AuthBench['upstream'];

const GUEST_ID = '5c7c1f0e-8a43-4bde-9d4e-1c2b3a4d5e6f';
const ALICE_KEY_ID = 'a11ce000-0000-4000-8000-000000000001';

const route = (name: string, config: string) => benchRoute(name, `[{name: key-auth, config: ${config}}]`);

t.before(async () => {
  bench = await startBench(
    [
      ...route('default', '{}'),
      ...route('names', '{key_names: [X-Api-Key, token]}'),
      ...route('header-only', '{key_in_query: false}'),
      ...route('query-only', '{key_in_header: false}'),
      ...route('body', '{key_in_body: true}'),
      ...route('body-hide', '{key_in_body: true, hide_credentials: true}'),
      ...route('hide', '{hide_credentials: true}'),
      ...route('realm', '{realm: api}'),
      ...route('preflight', '{run_on_preflight: false}'),
      ...route('anon-id', `{anonymous: ${GUEST_ID}}`),
      ...route('anon-name', '{anonymous: guest}'),
      ...route('anon-body', '{anonymous: guest, key_in_body: true}'),
      ...route('underscore', '{key_names: [api_key]}'),
      ...route('hyphen', '{key_names: [API-Key]}'),
      ...route('underscore-hide', '{key_names: [api_key], hide_credentials: true}'),
    ],
    [
      'consumers:',
      '  - username: alice',
      '    custom_id: a-1',
      `    keyauth_credentials: [{id: ${ALICE_KEY_ID}, key: alice-key}]`,
      `  - id: ${GUEST_ID}`,
      '    username: guest',
    ],
  );
  ({ gw, upstream } = bench);
});
t.teardown(() => bench.close());

const seen = () => bench.seen();

t.test('no key: 401 with Kong body and challenge; nothing reaches the upstream', async (t) => {
  const before = upstream.seen.length;
  const r = await request(gw.proxyPort, '/default');
  t.equal(r.status, 401);
  t.equal(r.json().message, 'No API key found in request');
  t.match(r.json().request_id, /^[0-9a-f]{32}$/);
  t.equal(r.headers['www-authenticate'], 'Key');
  t.equal(upstream.seen.length, before);
});

t.test('unknown key: 401 Unauthorized', async (t) => {
  const r = await request(gw.proxyPort, '/default', { headers: { apikey: 'nope' } });
  t.equal(r.status, 401);
  t.equal(r.json().message, 'Unauthorized');
  t.equal(r.headers['www-authenticate'], 'Key');
  t.notMatch(r.body, /nope/, 'the key is not echoed');
});

t.test('valid key in a header: consumer headers upstream, the key kept (hide_credentials off)', async (t) => {
  const r = await request(gw.proxyPort, '/default', { headers: { apikey: 'alice-key' } });
  t.equal(r.status, 200);
  const h = seen().headers;
  t.equal(h['x-consumer-username'], 'alice');
  t.equal(h['x-consumer-custom-id'], 'a-1');
  t.match(h['x-consumer-id'], /^[0-9a-f-]{36}$/);
  t.equal(h['x-credential-identifier'], ALICE_KEY_ID, "the credential's id, never the key");
  t.equal(h['x-anonymous-consumer'], undefined);
  t.equal(h.apikey, 'alice-key');
});

t.test('valid key in the query string, kept upstream', async (t) => {
  const r = await request(gw.proxyPort, '/default?x=1&apikey=alice-key');
  t.equal(r.status, 200);
  t.equal(seen().url, '/?x=1&apikey=alice-key');
  t.equal(seen().headers['x-consumer-username'], 'alice');
});

t.test('header names are case-insensitive, query names case-sensitive', async (t) => {
  t.equal((await request(gw.proxyPort, '/default', { headers: { APIKEY: 'alice-key' } })).status, 200);
  const q = await request(gw.proxyPort, '/default?APIKEY=alice-key');
  t.equal(q.status, 401);
  t.equal(q.json().message, 'No API key found in request');
});

t.test('key_names: every name is looked for, in headers and query', async (t) => {
  t.equal((await request(gw.proxyPort, '/names', { headers: { 'x-api-key': 'alice-key' } })).status, 200);
  t.equal((await request(gw.proxyPort, '/names?token=alice-key')).status, 200);
  t.equal((await request(gw.proxyPort, '/names?apikey=alice-key')).status, 401, 'the default name is replaced');
  t.equal((await request(gw.proxyPort, '/names?X-Api-Key&token=alice-key')).status, 200, 'a name without a value is passed over');
  t.equal((await request(gw.proxyPort, '/default?a=1&api%6Bey=alice%2Dkey')).status, 200, 'names and values are percent-decoded');
});

t.test('key_in_header false / key_in_query false', async (t) => {
  t.equal((await request(gw.proxyPort, '/header-only?apikey=alice-key')).status, 401);
  t.equal((await request(gw.proxyPort, '/header-only', { headers: { apikey: 'alice-key' } })).status, 200);
  t.equal((await request(gw.proxyPort, '/query-only', { headers: { apikey: 'alice-key' } })).status, 401);
  t.equal((await request(gw.proxyPort, '/query-only?apikey=alice-key')).status, 200);
});

t.test('a key sent twice is refused', async (t) => {
  const h = await request(gw.proxyPort, '/default', { headers: { apikey: ['alice-key', 'other'] } });
  t.equal(h.status, 401);
  t.equal(h.json().message, 'Duplicate API key found');
  const q = await request(gw.proxyPort, '/default?apikey=alice-key&apikey=alice-key');
  t.equal(q.status, 401);
  t.equal(q.json().message, 'Duplicate API key found');
  t.equal((await request(gw.proxyPort, '/default', { headers: { apikey: 'a, b' } })).json().message, 'Unauthorized', 'one header holding a comma is one key');
});

t.test('an empty key is no key', async (t) => {
  const r = await request(gw.proxyPort, '/default?apikey=');
  t.equal(r.status, 401);
  t.equal(r.json().message, 'No API key found in request');
});

t.test('hide_credentials: the header and the query parameter are gone upstream, the rest untouched', async (t) => {
  t.equal((await request(gw.proxyPort, '/hide', { headers: { apikey: 'alice-key', 'x-other': 'kept' } })).status, 200);
  t.equal(seen().headers.apikey, undefined);
  t.equal(seen().headers['x-other'], 'kept');
  t.equal((await request(gw.proxyPort, '/hide?a=1&apikey=alice-key&b=x%20y+z')).status, 200);
  t.equal(seen().url, '/?a=1&b=x%20y+z');
  t.equal((await request(gw.proxyPort, '/hide?apikey=alice-key')).status, 200);
  t.equal(seen().url, '/');
});

t.test('underscores or hyphens in key headers: either spelling of the name finds the key (Kong spec/03-plugins/09-key-auth/02-access_spec.lua)', async (t) => {
  for (const path of ['/underscore', '/hyphen']) {
    for (const name of ['api_key', 'api-key', 'API_KEY', 'Api-Key']) {
      t.equal((await request(gw.proxyPort, path, { headers: { [name]: 'alice-key' } })).status, 200, `${path}: ${name}`);
      t.equal(seen().headers['x-consumer-username'], 'alice');
      const wrong = await request(gw.proxyPort, path, { headers: { [name]: '123' } });
      t.equal(wrong.status, 401, `${path}: ${name}, a wrong key`);
      t.equal(wrong.json().message, 'Unauthorized');
    }
    const both = await request(gw.proxyPort, path, { headers: { api_key: 'alice-key', 'api-key': 'other' } });
    t.equal(both.status, 401, `${path}: the key under both spellings`);
    t.equal(both.json().message, 'Duplicate API key found');
  }
  t.equal((await request(gw.proxyPort, '/underscore?api-key=alice-key')).status, 401, 'query names are matched exactly');
  t.equal((await request(gw.proxyPort, '/underscore?api_key=alice-key')).status, 200);
  t.equal((await request(gw.proxyPort, '/underscore-hide', { headers: { 'api-key': 'alice-key', 'x-other': 'kept' } })).status, 200);
  t.equal(seen().headers['api-key'], undefined, 'hide_credentials removes the spelling that was sent');
  t.equal(seen().headers['x-other'], 'kept');
});

t.test('key_in_body: JSON, form and multipart bodies', async (t) => {
  const json = await request(gw.proxyPort, '/body', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"apikey":"alice-key","n":1}',
  });
  t.equal(json.status, 200);
  t.equal(seen().body, '{"apikey":"alice-key","n":1}', 'the body reaches the upstream as sent');
  const form = await request(gw.proxyPort, '/body', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'a=1&apikey=alice-key',
  });
  t.equal(form.status, 200);
  const multipart = await request(gw.proxyPort, '/body', {
    method: 'POST',
    headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
    body: '--XyZ\r\nContent-Disposition: form-data; name="apikey"\r\n\r\nalice-key\r\n--XyZ--\r\n',
  });
  t.equal(multipart.status, 200);
  t.equal(seen().headers['x-consumer-username'], 'alice');
  const chunked = await request(gw.proxyPort, '/body', { method: 'POST', headers: { 'content-type': 'application/json' }, chunks: ['{"apikey":', '"alice-key"}'] });
  t.equal(chunked.status, 200, 'a chunked body is read whole');
});

t.test('key_in_body: bodies that hold no usable key', async (t) => {
  const cases: Array<[string, string]> = [
    ['application/json', '{"apikey":42}'],
    ['application/json', '["apikey"]'],
    ['application/json', '{not json'],
    ['text/plain', 'apikey=alice-key'],
    ['multipart/form-data; boundary=B', '--B\r\nContent-Disposition: form-data; name="apikey"; filename="k.txt"\r\n\r\nalice-key\r\n--B--\r\n'],
  ];
  for (const [type, body] of cases) {
    const r = await request(gw.proxyPort, '/body', { method: 'POST', headers: { 'content-type': type }, body });
    t.equal(r.status, 401, `${type}: ${body}`);
    t.equal(r.json().message, 'No API key found in request');
  }
  const dup = await request(gw.proxyPort, '/body', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'apikey=alice-key&apikey=x',
  });
  t.equal(dup.json().message, 'Duplicate API key found');
});

t.test('key_in_body off: a key in the body is not looked for', async (t) => {
  const r = await request(gw.proxyPort, '/default', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"apikey":"alice-key"}' });
  t.equal(r.status, 401);
  t.equal(r.json().message, 'No API key found in request');
});

t.test('key_in_body: a body over 1 MiB is refused with 413', async (t) => {
  const body = `{"pad":"${'x'.repeat(1024 * 1024)}","apikey":"alice-key"}`;
  const r = await request(gw.proxyPort, '/body', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  t.equal(r.status, 413);
  t.equal(r.json().message, 'Request body too large');
  const header = await request(gw.proxyPort, '/body', { method: 'POST', headers: { 'content-type': 'application/json', apikey: 'alice-key' }, body });
  t.equal(header.status, 200, 'a key found in a header needs no body');
  t.equal(seen().body.length, body.length, 'and the large body streams through untouched');
  const anonymous = await request(gw.proxyPort, '/anon-body', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  t.equal(anonymous.status, 413, 'an unreadable body is not a failed key: no anonymous fallback');
  t.equal((await request(gw.proxyPort, '/anon-body', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 200);
  t.equal(seen().headers['x-anonymous-consumer'], 'true');
});

t.test('hide_credentials with key_in_body: the field leaves every body type', async (t) => {
  const json = await request(gw.proxyPort, '/body-hide', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"apikey":"alice-key","n":1}' });
  t.equal(json.status, 200);
  t.same(JSON.parse(seen().body), { n: 1 });
  t.equal(seen().headers['content-length'], String(Buffer.byteLength(seen().body)));
  const form = await request(gw.proxyPort, '/body-hide', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'a=1&apikey=alice-key&b=x+y%21',
  });
  t.equal(form.status, 200);
  t.equal(seen().body, 'a=1&b=x+y%21');
  const multipart = await request(gw.proxyPort, '/body-hide', {
    method: 'POST',
    headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
    body:
      '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n' +
      '--XyZ\r\nContent-Disposition: form-data; name="apikey"\r\n\r\nalice-key\r\n' +
      '--XyZ\r\nContent-Disposition: form-data; name="b"\r\n\r\n2\r\n--XyZ--\r\n',
  });
  t.equal(multipart.status, 200);
  t.equal(seen().body, '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name="b"\r\n\r\n2\r\n--XyZ--\r\n');
  const viaHeader = await request(gw.proxyPort, '/body-hide?apikey=x', {
    method: 'POST',
    headers: { 'content-type': 'application/json', apikey: 'alice-key' },
    body: '{"apikey":"stale","n":2}',
  });
  t.equal(viaHeader.status, 200);
  t.same(JSON.parse(seen().body), { n: 2 }, 'the name leaves the body even when the key came in a header');
  t.equal(seen().url, '/', 'and the query');
  t.equal(seen().headers.apikey, undefined);
});

t.test('realm', async (t) => {
  const r = await request(gw.proxyPort, '/realm');
  t.equal(r.headers['www-authenticate'], 'Key realm="api"');
  t.equal((await request(gw.proxyPort, '/realm', { headers: { apikey: 'bad' } })).headers['www-authenticate'], 'Key realm="api"');
});

t.test('run_on_preflight', async (t) => {
  const preflight = { origin: 'https://app.example', 'access-control-request-method': 'POST' };
  const skipped = await request(gw.proxyPort, '/preflight', { method: 'OPTIONS', headers: preflight });
  t.equal(skipped.status, 200, 'a preflight passes without credentials');
  t.equal(seen().method, 'OPTIONS');
  t.equal(seen().headers['x-consumer-id'], undefined);
  t.equal((await request(gw.proxyPort, '/preflight', { method: 'OPTIONS' })).status, 401, 'an OPTIONS request that is no preflight still needs a key');
  t.equal((await request(gw.proxyPort, '/preflight', { method: 'OPTIONS', headers: { origin: 'https://app.example' } })).status, 401);
  t.equal((await request(gw.proxyPort, '/default', { method: 'OPTIONS', headers: preflight })).status, 401, 'run_on_preflight defaults to true');
});

t.test('client-sent X-Consumer-* and X-Credential-* headers never reach the upstream', async (t) => {
  const spoof = {
    'X-Consumer-ID': 'spoofed',
    'X-Consumer-Custom-ID': 'spoofed',
    'X-Consumer-Username': 'root',
    'X-Credential-Identifier': 'spoofed',
    'X-Anonymous-Consumer': 'false',
    'X-Consumer-Groups': 'admin',
  };
  t.equal((await request(gw.proxyPort, '/default', { headers: { ...spoof, apikey: 'alice-key' } })).status, 200);
  let h = seen().headers;
  t.equal(h['x-consumer-username'], 'alice');
  t.not(h['x-consumer-id'], 'spoofed');
  t.equal(h['x-credential-identifier'], ALICE_KEY_ID);
  t.equal(h['x-anonymous-consumer'], undefined);
  t.equal(h['x-consumer-groups'], undefined);
  t.equal((await request(gw.proxyPort, '/anon-name', { headers: spoof })).status, 200);
  h = seen().headers;
  t.equal(h['x-consumer-username'], 'guest');
  t.equal(h['x-consumer-id'], GUEST_ID);
  t.equal(h['x-consumer-custom-id'], undefined, 'the anonymous consumer has no custom_id');
  t.equal(h['x-credential-identifier'], undefined);
  t.equal(h['x-anonymous-consumer'], 'true');
});

t.test('anonymous by id and by username: missing and wrong keys fall back, valid keys win', async (t) => {
  for (const path of ['/anon-id', '/anon-name']) {
    for (const opts of [{}, { headers: { apikey: 'wrong' } }]) {
      const r = await request(gw.proxyPort, path, opts);
      t.equal(r.status, 200, path);
      t.equal(seen().headers['x-consumer-id'], GUEST_ID);
      t.equal(seen().headers['x-anonymous-consumer'], 'true');
    }
    t.equal((await request(gw.proxyPort, path, { headers: { apikey: 'alice-key' } })).status, 200);
    t.equal(seen().headers['x-consumer-username'], 'alice');
    t.equal(seen().headers['x-anonymous-consumer'], undefined);
  }
});
