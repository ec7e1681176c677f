import t from 'tap';
import { request, type Reply } from '../helpers/http';
import { rawExchange } from '../helpers/raw';
import { benchRoute, startBench, type AuthBench } from '../helpers/auth';
import { digestOf, hmacAuthorization, httpDate } from '../helpers/tokens';

// Kong's cases: spec/03-plugins/19-hmac-auth/03-access_spec.lua (ACCESS below), one route per config as in its setup.
const ACCESS = 'spec/03-plugins/19-hmac-auth/03-access_spec.lua';
const GUEST_ID = '7a1c3e5f-9b2d-4f6a-8c0e-1d3f5a7b9c2e';
const SIGNATURE_NOT_VALID = 'HMAC signature cannot be verified';
const SIGNATURE_NOT_SAME = 'HMAC signature does not match';
const NO_DATE = 'HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication';

const route = (name: string, config: string) => benchRoute(name, `[{name: hmac-auth, config: ${config}}]`);

let bench: AuthBench;
t.before(async () => {
  bench = await startBench(
    [
      ...route('realm', '{clock_skew: 3000, realm: test-realm}'),
      ...route('plain', '{clock_skew: 3000}'),
      ...route('anon-id', `{anonymous: ${GUEST_ID}, clock_skew: 3000}`),
      ...route('body', '{clock_skew: 3000, validate_request_body: true}'),
      ...route('enforce', '{clock_skew: 3000, enforce_headers: [date, request-line], validate_request_body: true}'),
      ...route('algorithms', '{clock_skew: 3000, enforce_headers: [date, request-line], algorithms: [hmac-sha1, hmac-sha256], validate_request_body: true}'),
      ...route('anon-name', '{anonymous: guest, clock_skew: 3000}'),
      ...route('default', '{}'),
      ...route('hide', '{hide_credentials: true}'),
    ],
    [
      'consumers:',
      '  - username: bob',
      "    custom_id: '1234'",
      '    hmacauth_credentials: [{username: bob, secret: secret}]',
      `  - id: ${GUEST_ID}`,
      '    username: guest',
    ],
  );
});
t.teardown(() => bench.close());

const seen = () => bench.seen();
const send = (path: string, headers: Record<string, string>, opts: { method?: string; body?: string } = {}): Promise<Reply> =>
  request(bench.gw.proxyPort, path, { headers, method: opts.method, body: opts.body });

function refused(t: Tap.Test, r: Reply, message: string, challenge = 'hmac realm="test-realm"') {
  t.equal(r.status, 401);
  t.equal(r.json().message, message);
  t.equal(r.headers['www-authenticate'], challenge);
}

/** Headers signed over `date` (and `extra` lines), sent in `header`. */
function signedDate(date = httpDate(), header = 'authorization', algorithm = 'hmac-sha1') {
  return { date, [header]: hmacAuthorization('bob', 'secret', ['date'], [`date: ${date}`], algorithm) };
}

t.test(`${ACCESS}: refusals`, async (t) => {
  t.test('should not be authorized when the hmac credentials are missing (realm set, and not)', async (t) => {
    refused(t, await send('/realm', { date: httpDate() }), 'Unauthorized');
    refused(t, await send('/plain', { date: httpDate() }), 'Unauthorized', 'hmac');
  });
  t.test('should return a 401 with an invalid authorization header', async (t) => {
    refused(t, await send('/plain', { date: httpDate(), authorization: 'abc' }), SIGNATURE_NOT_VALID, 'hmac');
  });
  t.test('should not be authorized when the HMAC signature is wrong', async (t) => {
    refused(t, await send('/realm', { date: httpDate(), authorization: 'asd' }), SIGNATURE_NOT_VALID);
  });
  t.test('should not be authorized when the HMAC signature is not properly base64 encoded', async (t) => {
    const authorization = 'hmac username="bob",algorithm="hmac-sha1",headers="date",signature="not base64 at all"';
    refused(t, await send('/realm', { date: httpDate(), authorization }), SIGNATURE_NOT_SAME);
  });
  t.test('should not be authorized when date header is missing', async (t) => {
    refused(t, await send('/realm', { authorization: 'asd' }), NO_DATE);
  });
  t.test('should not be authorized with signature is wrong in proxy-authorization', async (t) => {
    refused(t, await send('/realm', { date: httpDate(), 'proxy-authorization': 'asd' }), SIGNATURE_NOT_VALID);
  });
  t.test('should not pass when passing only the digest', async (t) => {
    refused(t, await send('/realm', { date: httpDate(), authorization: 'hmac :dXNlcm5hbWU6cGFzc3dvcmQ=' }), SIGNATURE_NOT_VALID);
  });
  t.test('should not pass when passing wrong hmac parameters / only the username', async (t) => {
    for (const authorization of ['hmac username=,algorithm,headers,dXNlcm5hbWU6cGFzc3dvcmQ=', 'hmac username=', 'hmac username="bob"']) {
      refused(t, await send('/realm', { date: httpDate(), authorization }), SIGNATURE_NOT_VALID);
    }
  });
  t.test('should not be authorized when authorization header is missing', async (t) => {
    refused(t, await send('/realm', { date: httpDate(), 'content-md5': 'md5' }), 'Unauthorized');
  });
  t.test('should not pass with username or signature missing', async (t) => {
    const date = httpDate();
    const good = hmacAuthorization('bob', 'secret', ['date'], [`date: ${date}`], 'hmac-sha1');
    refused(t, await send('/realm', { date, authorization: good.replace('username="bob", ', '') }), SIGNATURE_NOT_VALID);
    refused(t, await send('/realm', { date, authorization: good.replace(/, signature=".*"$/, '') }), SIGNATURE_NOT_VALID);
  });
  t.test('should not pass with GET with wrong, blank or missing username in signature', async (t) => {
    const date = httpDate();
    const good = hmacAuthorization('bob', 'secret', ['date'], [`date: ${date}`], 'hmac-sha1');
    for (const authorization of [good.replace('"bob"', '"bobb"'), good.replace('"bob"', '""'), good.replace('username="bob", ', '')]) {
      refused(t, await send('/realm', { date, authorization }), SIGNATURE_NOT_VALID);
    }
  });
  t.test('should not pass with GET with wrong hmac headers or signature field name, or malformed fields', async (t) => {
    const date = httpDate();
    const good = hmacAuthorization('bob', 'secret', ['date'], [`date: ${date}`], 'hmac-sha1');
    for (const authorization of [good.replace('headers=', 'headerss='), good.replace('signature=', 'signatures='), good.replace('signature="', 'signature='), good.replace('headers="', 'headers=')]) {
      refused(t, await send('/realm', { date, authorization }), SIGNATURE_NOT_VALID);
    }
  });
  t.test('should not pass with GET with wrong algorithm', async (t) => {
    const date = httpDate();
    const authorization = hmacAuthorization('bob', 'secret', ['date'], [`date: ${date}`], 'hmac-sha1').replace('hmac-sha1', 'hmac-sha');
    refused(t, await send('/realm', { date, authorization }), SIGNATURE_NOT_VALID);
  });
  t.test('a date outside clock_skew (300 s by default) is no valid date', async (t) => {
    refused(t, await send('/default', signedDate(httpDate(-400))), NO_DATE, 'hmac');
    refused(t, await send('/default', signedDate(httpDate(400))), NO_DATE, 'hmac');
    t.equal((await send('/default', signedDate(httpDate(-200)))).status, 200);
  });
  t.test('nothing refused reaches the upstream', async (t) => {
    const before = bench.upstream.seen.length;
    await send('/realm', { date: httpDate(), authorization: 'hmac username="bob",algorithm="hmac-sha1",headers="date",signature="AAAA"' });
    t.equal(bench.upstream.seen.length, before);
  });
});

t.test(`${ACCESS}: signatures`, async (t) => {
  t.test('should pass with GET / POST; the credential goes upstream', async (t) => {
    const headers = signedDate();
    t.equal((await send('/realm', headers)).status, 200);
    t.equal(seen().headers.authorization, headers.authorization);
    t.equal((await send('/realm', headers, { method: 'POST', body: 'x=1' })).status, 200);
  });
  t.test('should pass with GET and proxy-authorization', async (t) => {
    t.equal((await send('/realm', signedDate(undefined, 'proxy-authorization'))).status, 200);
  });
  t.test('should pass with GET and valid authorization and wrong proxy-authorization', async (t) => {
    t.equal((await send('/realm', { ...signedDate(), 'proxy-authorization': 'hmac username' })).status, 200);
  });
  t.test('should pass with GET and invalid authorization and valid proxy-authorization', async (t) => {
    t.equal((await send('/realm', { ...signedDate(undefined, 'proxy-authorization'), authorization: 'hello' })).status, 200);
  });
  t.test('should pass with GET with content-md5 header', async (t) => {
    const date = httpDate();
    const authorization = hmacAuthorization('bob', 'secret', ['date', 'content-md5'], [`date: ${date}`, 'content-md5: md5'], 'hmac-sha1');
    t.equal((await send('/realm', { date, 'proxy-authorization': authorization, authorization: 'hello', 'content-md5': 'md5' })).status, 200);
  });
  t.test('should pass with GET with request-line', async (t) => {
    const date = httpDate();
    const authorization = hmacAuthorization('bob', 'secret', ['date', 'content-md5', 'request-line'], [`date: ${date}`, 'content-md5: md5', 'GET /realm HTTP/1.1'], 'hmac-sha1');
    t.equal((await send('/realm', { date, 'proxy-authorization': authorization, 'content-md5': 'md5' })).status, 200);
  });
  t.test('should pass with GET with @request-target', async (t) => {
    const date = httpDate();
    const authorization = hmacAuthorization('bob', 'secret', ['date', 'content-md5', '@request-target'], [`date: ${date}`, 'content-md5: md5', '@request-target: get /realm'], 'hmac-sha1');
    t.equal((await send('/realm', { date, 'proxy-authorization': authorization, 'content-md5': 'md5' })).status, 200);
  });
  t.test('should encode http-1 requests as http/1.0', async (t) => {
    const date = httpDate();
    const authorization = hmacAuthorization('bob', 'secret', ['date', 'request-line'], [`date: ${date}`, 'GET /realm HTTP/1.0'], 'hmac-sha1');
    const r = await rawExchange(bench.gw.proxyPort, `GET /realm HTTP/1.0\r\nHost: x\r\nDate: ${date}\r\nAuthorization: ${authorization}\r\n\r\n`);
    t.equal(r.status, 200);
  });
  t.test('should pass with GET with no space or space between hmac signatures fields', async (t) => {
    const date = httpDate();
    const authorization = hmacAuthorization('bob', 'secret', ['date'], [`date: ${date}`], 'hmac-sha1').replace(/, /g, ',').replace('",signature', '",    signature');
    t.equal((await send('/realm', { date, authorization })).status, 200);
    t.equal((await send('/realm', { date, authorization: `  HMAC${authorization.slice(4)}`.replace('HMAC', 'Hmac') })).status, 200, "Kong's [Hh]mac");
  });
  t.test('should pass the right headers to the upstream server', async (t) => {
    t.equal((await send('/realm', signedDate())).status, 200);
    const h = seen().headers;
    t.match(h['x-consumer-id'], /^[0-9a-f-]{36}$/);
    t.equal(h['x-consumer-username'], 'bob');
    t.equal(h['x-consumer-custom-id'], '1234');
    t.equal(h['x-credential-identifier'], 'bob');
    t.equal(h['x-anonymous-consumer'], undefined);
  });
  t.test('should pass with GET with x-date header', async (t) => {
    const date = httpDate();
    const authorization = hmacAuthorization('bob', 'secret', ['x-date'], [`x-date: ${date}`], 'hmac-sha1');
    t.equal((await send('/realm', { 'x-date': date, authorization })).status, 200);
  });
  t.test('should not pass with GET with both date and x-date missing, or x-date malformed', async (t) => {
    const authorization = hmacAuthorization('bob', 'secret', ['content-md5'], ['content-md5: md5'], 'hmac-sha1');
    refused(t, await send('/realm', { authorization, 'content-md5': 'md5' }), NO_DATE);
    refused(t, await send('/realm', { authorization, 'x-date': 'wrong date', 'content-md5': 'md5' }), NO_DATE);
  });
  t.test('should pass with GET with x-date malformed but date correct (and either used for signature)', async (t) => {
    const date = httpDate();
    const lines = (name: string, value: string) => hmacAuthorization('bob', 'secret', [name, 'request-line'], [`${name}: ${value}`, 'GET /realm HTTP/1.1'], 'hmac-sha1');
    t.equal((await send('/realm', { 'x-date': 'wrong date', date, authorization: lines('date', date) })).status, 200);
    t.equal((await send('/realm', { 'x-date': 'wrong date', date, authorization: lines('x-date', 'wrong date') })).status, 200);
    t.equal((await send('/realm', { 'x-date': date, date: 'wrong date', authorization: lines('date', 'wrong date') })).status, 200);
  });
  t.test('the three HTTP date forms', async (t) => {
    const d = new Date(Date.now());
    const [wd, , mon, , time] = d.toUTCString().split(' ');
    const day = d.getUTCDate();
    const rfc850 = `${wd.slice(0, 3)}day, ${String(day).padStart(2, '0')}-${mon}-${String(d.getUTCFullYear()).slice(2)} ${time} GMT`;
    const asctime = `${wd.slice(0, 3)} ${mon} ${String(day).padStart(2, ' ')} ${time} ${d.getUTCFullYear()}`;
    for (const date of [rfc850, asctime]) t.equal((await send('/realm', signedDate(date))).status, 200, date);
  });
  t.test('should pass with GET with request-line having query params (encoded, repeated) and encoded path', async (t) => {
    for (const target of ['/enforce?name=foo', '/enforce/?name=foo', '/enforce?name=foo%20bar&address=san%20francisco', '/enforce?name=foo&name=bar', '/enforce/some%20value/?name=foo&name=bar']) {
      const date = httpDate();
      const authorization = hmacAuthorization('bob', 'secret', ['date', 'request-line'], [`date: ${date}`, `GET ${target} HTTP/1.1`], 'hmac-sha1');
      t.equal((await send(target, { date, 'proxy-authorization': authorization })).status, 200, target);
    }
  });
  t.test('should fail with GET with request-line having query param but signed without query param', async (t) => {
    const date = httpDate();
    const authorization = hmacAuthorization('bob', 'secret', ['date', 'request-line'], [`date: ${date}`, 'GET /enforce HTTP/1.1'], 'hmac-sha1');
    refused(t, await send('/enforce?name=foo', { date, 'proxy-authorization': authorization }), SIGNATURE_NOT_SAME, 'hmac');
  });
  t.test('should fail with GET when enforced header request-line missing', async (t) => {
    const date = httpDate();
    const authorization = hmacAuthorization('bob', 'secret', ['date', 'content-md5'], [`date: ${date}`, 'content-md5: md5'], 'hmac-sha1');
    refused(t, await send('/enforce', { date, 'proxy-authorization': authorization, 'content-md5': 'md5' }), SIGNATURE_NOT_VALID, 'hmac');
  });
  t.test('should pass with hmac-sha1/256/384/512; algorithms limits them', async (t) => {
    for (const algorithm of ['hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512']) {
      t.equal((await send('/realm', signedDate(undefined, 'authorization', algorithm))).status, 200, algorithm);
    }
    const date = httpDate();
    const signed = (algorithm: string) => hmacAuthorization('bob', 'secret', ['date', 'request-line'], [`date: ${date}`, 'GET /algorithms HTTP/1.1'], algorithm);
    t.equal((await send('/algorithms', { date, authorization: signed('hmac-sha256') })).status, 200);
    refused(t, await send('/algorithms', { date, authorization: signed('hmac-sha512') }), SIGNATURE_NOT_VALID, 'hmac');
  });
  t.test('a header missing from the request signs as "name:"', async (t) => {
    const date = httpDate();
    const authorization = hmacAuthorization('bob', 'secret', ['date', 'x-absent'], [`date: ${date}`, 'x-absent:'], 'hmac-sha1');
    t.equal((await send('/realm', { date, authorization })).status, 200);
  });
});

t.test(`${ACCESS}: validate_request_body`, async (t) => {
  const post = (headers: Record<string, string>, body?: string) => send('/body', headers, { method: 'POST', body });
  t.test('should return 401 when body validation enabled and no digest header is present', async (t) => {
    refused(t, await post(signedDate(), 'abc'), SIGNATURE_NOT_SAME, 'hmac');
  });
  t.test('should return 200 when body validation enabled and no body and no digest header is present', async (t) => {
    t.equal((await send('/body', signedDate())).status, 200);
  });
  t.test('should return 200 when body validation enabled and no body and an digest header is present', async (t) => {
    const date = httpDate();
    const digest = digestOf('');
    const authorization = hmacAuthorization('bob', 'secret', ['date', 'digest'], [`date: ${date}`, `digest: ${digest}`], 'hmac-sha1');
    t.equal((await send('/body', { date, digest, authorization })).status, 200);
  });
  t.test('should pass with POST when body validation enabled and digest header present (signed or not)', async (t) => {
    const date = httpDate();
    const body = '{"a":"apple","b":"ball"}';
    const digest = digestOf(body);
    const signed = hmacAuthorization('bob', 'secret', ['date', 'digest'], [`date: ${date}`, `digest: ${digest}`], 'hmac-sha1');
    t.equal((await post({ date, digest, authorization: signed }, body)).status, 200);
    t.equal(seen().body, body, 'the body read for the digest still reaches the upstream');
    t.equal((await post({ ...signedDate(date), digest }, body)).status, 200);
  });
  t.test('should not pass with POST when body validation enabled and digest header missing, body or digest tampered', async (t) => {
    const date = httpDate();
    const body = '{"a":"apple","b":"ball"}';
    const digest = digestOf(body);
    const signed = hmacAuthorization('bob', 'secret', ['date', 'digest'], [`date: ${date}`, `digest: ${digest}`], 'hmac-sha1');
    refused(t, await post({ date, authorization: signed }, body), SIGNATURE_NOT_SAME, 'hmac');
    refused(t, await post({ date, digest, authorization: signed }, `${body}x`), SIGNATURE_NOT_SAME, 'hmac');
    refused(t, await post({ date, digest: digestOf('other'), authorization: signed }, body), SIGNATURE_NOT_SAME, 'hmac');
  });
  t.test('a body over 1 MiB is refused with 413 (Kong: 401 beyond its body buffer)', async (t) => {
    const body = 'x'.repeat(1024 * 1024 + 1);
    const r = await post({ ...signedDate(), digest: digestOf(body) }, body);
    t.equal(r.status, 413);
  });
});

t.test(`${ACCESS}: config.anonymous`, async (t) => {
  for (const path of ['/anon-id', '/anon-name']) {
    t.equal((await send(path, signedDate())).status, 200);
    t.equal(seen().headers['x-consumer-username'], 'bob');
    t.equal(seen().headers['x-credential-identifier'], 'bob');
    for (const headers of [{}, { date: httpDate(), authorization: 'asd' }, signedDate(httpDate(-4000))] as Record<string, string>[]) {
      t.equal((await send(path, headers)).status, 200);
      t.equal(seen().headers['x-anonymous-consumer'], 'true');
      t.equal(seen().headers['x-consumer-username'], 'guest');
      t.equal(seen().headers['x-consumer-id'], GUEST_ID);
      t.equal(seen().headers['x-credential-identifier'], undefined);
    }
  }
});

t.test('hide_credentials: the header the credential came from is dropped', async (t) => {
  t.equal((await send('/hide', signedDate())).status, 200);
  t.equal(seen().headers.authorization, undefined);
  t.equal((await send('/hide', { ...signedDate(undefined, 'proxy-authorization'), authorization: 'Basic keep-me' })).status, 200);
  t.equal(seen().headers['proxy-authorization'], undefined);
  t.equal(seen().headers.authorization, 'Basic keep-me');
});

t.test('no signature or secret in any log line', async (t) => {
  const headers = signedDate();
  await send('/realm', headers);
  const signature = /signature="([^"]+)"/.exec(headers.authorization)![1];
  t.notMatch(bench.gw.logs() + bench.gw.output(), signature);
});
