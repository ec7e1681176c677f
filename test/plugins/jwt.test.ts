import t from 'tap';
import { writeFileSync } from 'node:fs';
import { request, type Reply } from '../helpers/http';
import { benchRoute, startBench, type AuthBench } from '../helpers/auth';
import { waitFor } from '../helpers/wait';
import { keyPair, now, signJwt, type TestKeyPair } from '../helpers/tokens';

// Kong's cases: spec/03-plugins/16-jwt/03-access_spec.lua (ACCESS below), one route per config as in its setup.
const ACCESS = 'spec/03-plugins/16-jwt/03-access_spec.lua';
const GUEST_ID = '5e3b1f0a-2c4d-4e6f-8a9b-0c1d2e3f4a5b';
const HS_SECRET = 'hs256-secret-7c1e9a4f2b8d6035';
const B64_ORIGINAL = 'original secret bytes';

const ASYMMETRIC: Array<[name: string, alg: string, curve?: string]> = [
  ['rs256', 'RS256'], ['rs384', 'RS384'], ['rs512', 'RS512'],
  ['es256', 'ES256'], ['es384', 'ES384'], ['es512', 'ES512'],
  ['ps256', 'PS256'], ['ps384', 'PS384'], ['ps512', 'PS512'],
  ['ed25519', 'EdDSA', 'ed25519'], ['ed448', 'EdDSA', 'ed448'],
];
const pairs = new Map<string, TestKeyPair>(ASYMMETRIC.map(([name, alg, curve]) => [name, keyPair(alg, curve)]));

const route = (name: string, config: string) => benchRoute(name, `[{name: jwt, config: ${config}}]`);
const ROUTES = [
  ...route('default', '{}'),
  ...route('params', '{uri_param_names: [token, jwt]}'),
  ...route('claims', '{claims_to_verify: [nbf, exp]}'),
  ...route('aud', '{key_claim_name: aud}'),
  ...route('base64', '{secret_is_base64: true}'),
  ...route('anon-id', `{anonymous: ${GUEST_ID}}`),
  ...route('anon-name', '{anonymous: guest}'),
  ...route('preflight', '{run_on_preflight: false}'),
  ...route('cookies', '{cookie_names: [silly, crumble], realm: test-jwt}'),
  ...route('kid', '{key_claim_name: kid}'),
  ...route('maxexp', '{claims_to_verify: [nbf, exp], maximum_expiration: 300}'),
  ...route('custom-header', '{header_names: [CustomAuthorization]}'),
  ...route('exp', '{claims_to_verify: [exp]}'),
];

function consumers(hsSecret = HS_SECRET): string[] {
  const lines = [
    'consumers:',
    '  - username: jwt_tests_consumer',
    `    jwt_secrets: [{key: hs-key, secret: ${hsSecret}}]`,
    '  - username: jwt_tests_consumer_6',
    '    jwt_secrets: [{key: kid-key, secret: kid-secret-0a9e1f3b5c7d}]',
    '  - username: jwt_tests_base64_consumer',
    `    jwt_secrets: [{key: b64-key, secret: ${Buffer.from(B64_ORIGINAL).toString('base64')}}]`,
    '  - username: jwt_tests_hs_consumer_7',
    '    jwt_secrets: [{key: hs384-key, algorithm: HS384, secret: hs384-secret-4d2f8b6a1c3e}]',
    '  - username: jwt_tests_hs_consumer_8',
    '    jwt_secrets: [{key: hs512-key, algorithm: HS512, secret: hs512-secret-9b7d5f3a1e2c}]',
    `  - id: ${GUEST_ID}`,
    '    username: guest',
  ];
  for (const [name, alg] of ASYMMETRIC) {
    lines.push(`  - username: ${name}_consumer`, `    jwt_secrets: [{key: ${name}-key, algorithm: ${alg}, rsa_public_key: ${JSON.stringify(pairs.get(name)!.publicPem)}}]`);
  }
  return lines;
}

let bench: AuthBench;
t.before(async () => {
  bench = await startBench(ROUTES, consumers());
});
t.teardown(() => bench.close());

const seen = () => bench.seen();
const get = (path: string, headers: Record<string, string | string[]> = {}, method = 'GET'): Promise<Reply> => request(bench.gw.proxyPort, path, { headers, method });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const payload = (iss: string | undefined, extra: object = {}) => ({ iss, nbf: now(), iat: now(), exp: now() + 3600, ...extra });
const hsToken = (extra: object = {}) => signJwt(payload('hs-key', extra), HS_SECRET);

function refused(t: Tap.Test, r: Reply, body: string, challenge = 'Bearer error="invalid_token"') {
  t.equal(r.status, 401);
  t.equal(r.body, body);
  t.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  t.equal(r.headers['www-authenticate'], challenge);
}

t.test(`${ACCESS}: refusals`, async (t) => {
  t.test('returns 401 Unauthorized if no JWT is found in the request', async (t) => {
    refused(t, await get('/default'), '{"message":"Unauthorized"}', 'Bearer');
  });
  t.test('returns 401 if the claims do not contain the key to identify a secret', async (t) => {
    refused(t, await get('/default', bearer(signJwt(payload(undefined), 'foo'))), `{"message":"No mandatory 'iss' in claims"}`);
  });
  t.test('returns 401 if the claims do not contain a valid key to identify a secret', async (t) => {
    refused(t, await get('/default', bearer(signJwt(payload(''), 'foo'))), `{"message":"Invalid 'iss' in claims"}`);
    refused(t, await get('/default', bearer(signJwt(payload(undefined, { iss: 42 }), 'foo'))), `{"message":"Invalid 'iss' in claims"}`, undefined);
  });
  t.test('returns 401 Unauthorized if the iss does not match a credential', async (t) => {
    refused(t, await get('/default', bearer(signJwt(payload('123456789'), HS_SECRET))), `{"message":"No credentials found for given 'iss'"}`);
  });
  t.test('returns 401 Unauthorized if the signature is invalid', async (t) => {
    refused(t, await get('/default', bearer(signJwt(payload('hs-key'), 'foo'))), '{"message":"Invalid signature"}');
  });
  t.test('returns 401 Unauthorized if the alg does not match the credential', async (t) => {
    refused(t, await get('/default', bearer(signJwt(payload('hs-key'), HS_SECRET, 'HS256', { typ: 'JWT', alg: 'RS256' }))), '{"message":"Invalid algorithm"}');
  });
  t.test('returns 401 if the token exceeds the maximum allowed expiration limit', async (t) => {
    const token = signJwt({ iss: 'hs-key', exp: now() + 3600, nbf: now() - 30 }, HS_SECRET);
    refused(t, await get(`/maxexp?jwt=${token}`), '{"exp":"exceeds maximum allowed expiration"}');
  });
  t.test('accepts a JWT token within the maximum allowed expiration limit', async (t) => {
    const token = signJwt({ iss: 'hs-key', exp: now() + 270, nbf: now() - 30 }, HS_SECRET);
    t.equal((await get(`/maxexp?jwt=${token}`)).status, 200);
  });
  t.test('reject if multiple different tokens found', async (t) => {
    refused(t, await get(`/default?jwt=${hsToken()}`, { authorization: 'Bearer invalid.jwt.token' }), '{"message":"Multiple tokens provided"}');
    const token = hsToken();
    t.equal((await get(`/default?jwt=${token}`, bearer(token))).status, 200, 'the same token twice is one token');
  });
  t.test('bad tokens: Kong\'s "Bad token; …" reasons', async (t) => {
    const header = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
    const claims = header({ iss: 'hs-key' });
    const cases: Array<[string, string]> = [
      ['only.two', 'invalid JSON'],
      ['no-way-this-works' + hsToken(), 'invalid JSON'],
      [`${header({ alg: 'none' })}.${claims}.sig`, 'invalid alg'],
      [`${header({ typ: 'JWT' })}.${claims}.sig`, 'invalid alg'],
      [`${header({ alg: 'HS256' })}.${header([1])}.sig`, 'invalid claims'],
      [`${header({ alg: 'HS256' })}.${claims}.not*base64`, 'invalid signature'],
    ];
    for (const [token, why] of cases) refused(t, await get('/default', bearer(token)), JSON.stringify({ message: `Bad token; ${why}` }));
  });
  t.test('nothing refused reaches the upstream', async (t) => {
    const before = bench.upstream.seen.length;
    await get('/default', bearer(signJwt(payload('hs-key'), 'foo')));
    t.equal(bench.upstream.seen.length, before);
  });
});

t.test(`${ACCESS}: run_on_preflight`, async (t) => {
  const preflight = { origin: 'http://example.test', 'access-control-request-method': 'GET' };
  t.test('a preflight passes if run_on_preflight is false', async (t) => {
    t.equal((await get('/preflight', preflight, 'OPTIONS')).status, 200);
  });
  t.test('returns Unauthorized on OPTIONS requests if run_on_preflight is true', async (t) => {
    refused(t, await get('/default', preflight, 'OPTIONS'), '{"message":"Unauthorized"}', 'Bearer');
  });
  t.test('an OPTIONS request that is no preflight still needs a token (Kong lets every OPTIONS through)', async (t) => {
    t.equal((await get('/preflight', {}, 'OPTIONS')).status, 401);
  });
});

t.test(`${ACCESS}: HS256`, async (t) => {
  t.test('proxies the request with token and consumer headers if it was verified', async (t) => {
    const token = hsToken();
    const r = await get('/default', bearer(token));
    t.equal(r.status, 200);
    const h = seen().headers;
    t.equal(h.authorization, `Bearer ${token}`);
    t.equal(h['x-consumer-username'], 'jwt_tests_consumer');
    t.equal(h['x-credential-identifier'], 'hs-key');
    t.equal(h['x-anonymous-consumer'], undefined);
  });
  t.test('a token is remembered once verified: the same token again, still the same consumer', async (t) => {
    const token = hsToken({ jti: 'again' });
    for (let i = 0; i < 3; i++) {
      t.equal((await get('/default', bearer(token))).status, 200);
      t.equal(seen().headers['x-consumer-username'], 'jwt_tests_consumer');
    }
  });
  t.test('proxies the request if the key is found in headers', async (t) => {
    const token = signJwt(payload(undefined), 'kid-secret-0a9e1f3b5c7d', 'HS256', { typ: 'JWT', alg: 'HS256', kid: 'kid-key' });
    t.equal((await get('/kid', bearer(token))).status, 200);
    t.equal(seen().headers['x-consumer-username'], 'jwt_tests_consumer_6');
  });
  t.test('proxies the request if secret key is stored in a field other than iss', async (t) => {
    t.equal((await get('/aud', bearer(signJwt(payload(undefined, { aud: 'hs-key' }), HS_SECRET)))).status, 200);
    t.equal(seen().headers['x-credential-identifier'], 'hs-key');
  });
  t.test('proxies the request if secret is base64', async (t) => {
    t.equal((await get('/base64', bearer(signJwt(payload('b64-key'), B64_ORIGINAL)))).status, 200);
    t.equal(seen().headers['x-consumer-username'], 'jwt_tests_base64_consumer');
    t.equal((await get('/default', bearer(signJwt(payload('b64-key'), B64_ORIGINAL)))).status, 401, 'without secret_is_base64 the secret is used as written');
  });
  t.test('returns 200 the JWT is found in the cookie crumble / silly', async (t) => {
    for (const name of ['crumble', 'silly']) {
      t.equal((await get('/cookies', { cookie: `${name}=${hsToken()}; path=/;domain=.jwt9.test` })).status, 200, name);
    }
  });
  t.test('returns 401 if the JWT found in the cookie does not match a credential', async (t) => {
    const token = signJwt(payload('incorrect-issuer'), HS_SECRET);
    refused(t, await get('/cookies', { cookie: `silly=${token}; path=/;domain=.jwt9.test` }), `{"message":"No credentials found for given 'iss'"}`, 'Bearer realm="test-jwt", error="invalid_token"');
  });
  t.test('returns a 401 if the JWT in the cookie is corrupted', async (t) => {
    const token = `no-way-this-works${hsToken()}`;
    refused(t, await get('/cookies', { cookie: `silly=${token}; path=/;domain=.jwt9.test` }), '{"message":"Bad token; invalid JSON"}', 'Bearer realm="test-jwt", error="invalid_token"');
  });
  t.test('reports a 200 without cookies but with a JWT token in the Authorization header', async (t) => {
    t.equal((await get('/cookies', bearer(hsToken()))).status, 200);
  });
  t.test('returns 401 if no JWT tokens are found in cookies or Authorization header', async (t) => {
    refused(t, await get('/cookies'), '{"message":"Unauthorized"}', 'Bearer realm="test-jwt"');
  });
  t.test('returns 200 without cookies but with a JWT token in the CustomAuthorization header', async (t) => {
    t.equal((await get('/custom-header', { customauthorization: `Bearer ${hsToken()}` })).status, 200);
    t.equal((await get('/custom-header', bearer(hsToken()))).status, 401, 'Authorization is no longer read');
  });
  t.test('finds the JWT in the first header occurrence of a duplicated custom authorization header', async (t) => {
    t.equal((await get('/custom-header', { customauthorization: [`Bearer ${hsToken()}`, 'Bearer other-token'] })).status, 200);
  });
  t.test('finds the JWT if given in URL parameters, or a custom URL parameter', async (t) => {
    t.equal((await get(`/default?jwt=${hsToken()}`)).status, 200);
    t.equal((await get(`/params?token=${hsToken()}`)).status, 200);
    t.equal((await get(`/default?token=${hsToken()}`)).status, 401);
  });
  t.test("Kong's [Bb]earer prefix", async (t) => {
    t.equal((await get('/default', { authorization: `bearer   ${hsToken()}` })).status, 200);
    t.equal((await get('/default', { authorization: `Basic ${hsToken()}` })).status, 401);
  });
});

t.test(`${ACCESS}: every algorithm verifies and identifies its consumer`, async (t) => {
  for (const [name, alg] of ASYMMETRIC) {
    const token = signJwt(payload(`${name}-key`), pairs.get(name)!.privateKey, alg);
    const r = await get('/default', bearer(token));
    t.equal(r.status, 200, name);
    t.equal(seen().headers['x-consumer-username'], `${name}_consumer`);
    t.equal(seen().headers['x-credential-identifier'], `${name}-key`);
    t.equal(seen().headers['x-credential-username'], undefined);
    // A token signed by another key of the same kind fails.
    const other = signJwt(payload(`${name}-key`), keyPair(alg, ASYMMETRIC.find((a) => a[0] === name)![2]).privateKey, alg);
    refused(t, await get('/default', bearer(other)), '{"message":"Invalid signature"}');
  }
  t.equal((await get('/base64', bearer(signJwt(payload('rs256-key'), pairs.get('rs256')!.privateKey, 'RS256')))).status, 200, 'secret_is_base64 leaves public keys alone');
  for (const [key, alg, secret, user] of [
    ['hs384-key', 'HS384', 'hs384-secret-4d2f8b6a1c3e', 'jwt_tests_hs_consumer_7'],
    ['hs512-key', 'HS512', 'hs512-secret-9b7d5f3a1e2c', 'jwt_tests_hs_consumer_8'],
  ]) {
    t.equal((await get('/default', bearer(signJwt(payload(key), secret, alg)))).status, 200, alg);
    t.equal(seen().headers['x-consumer-username'], user);
  }
  const es256 = signJwt(payload('es256-key'), pairs.get('es256')!.privateKey, 'ES256');
  const [h, c, s] = es256.split('.');
  refused(t, await get('/default', bearer(`${h}.${c}.${s.slice(0, -4)}`)), '{"message":"Invalid signature"}', undefined);
});

t.test(`${ACCESS}: JWT private claims checks`, async (t) => {
  t.test('requires the checked fields to be in the claims', async (t) => {
    refused(t, await get(`/claims?jwt=${signJwt({ iss: 'hs-key' }, HS_SECRET)}`), '{"nbf":"must be a number","exp":"must be a number"}');
  });
  t.test('checks if the fields are valid: `exp` claim', async (t) => {
    refused(t, await get(`/claims?jwt=${signJwt({ iss: 'hs-key', exp: now() - 10, nbf: now() - 10 }, HS_SECRET)}`), '{"exp":"token expired"}');
  });
  t.test('checks if the fields are valid: `nbf` claim', async (t) => {
    refused(t, await get(`/claims?jwt=${signJwt({ iss: 'hs-key', exp: now() + 10, nbf: now() + 5 }, HS_SECRET)}`), '{"nbf":"token not valid yet"}');
  });
  t.test('without claims_to_verify an expired token passes, as in Kong', async (t) => {
    t.equal((await get(`/default?jwt=${signJwt({ iss: 'hs-key', exp: now() - 10 }, HS_SECRET)}`)).status, 200);
  });
  t.test('a remembered token is forgotten at its exp', async (t) => {
    const token = signJwt({ iss: 'hs-key', exp: now() + 2 }, HS_SECRET);
    t.equal((await get('/exp', bearer(token))).status, 200);
    const expired = await waitFor('the token to expire', async () => {
      const r = await get('/exp', bearer(token));
      return r.status === 200 ? undefined : r;
    });
    refused(t, expired, '{"exp":"token expired"}');
  });
});

t.test(`${ACCESS}: config.anonymous`, async (t) => {
  for (const path of ['/anon-id', '/anon-name']) {
    t.equal((await get(path, bearer(hsToken()))).status, 200);
    t.equal(seen().headers['x-consumer-username'], 'jwt_tests_consumer');
    t.equal(seen().headers['x-credential-identifier'], 'hs-key');
    t.equal(seen().headers['x-anonymous-consumer'], undefined);
    for (const headers of [{}, bearer('invalid.jwt.token'), bearer(signJwt(payload('hs-key'), 'wrong'))]) {
      t.equal((await get(path, headers)).status, 200);
      t.equal(seen().headers['x-anonymous-consumer'], 'true');
      t.equal(seen().headers['x-consumer-username'], 'guest');
      t.equal(seen().headers['x-consumer-id'], GUEST_ID);
      t.equal(seen().headers['x-credential-identifier'], undefined);
    }
  }
});

t.test('spoofed identity headers are replaced', async (t) => {
  const spoof = { 'x-consumer-username': 'admin', 'x-credential-identifier': 'admin-key', 'x-anonymous-consumer': 'false', 'x-consumer-id': 'x' };
  t.equal((await get('/anon-id', spoof)).status, 200);
  t.equal(seen().headers['x-consumer-username'], 'guest');
  t.equal(seen().headers['x-credential-identifier'], undefined);
  t.equal(seen().headers['x-anonymous-consumer'], 'true');
});

t.test('a reload with a changed secret forgets the tokens verified with the old one', async (t) => {
  const token = hsToken({ jti: 'reload' });
  t.equal((await get('/default', bearer(token))).status, 200);
  writeFileSync(bench.gw.configFile, bench.gw.configFile && configText('another-secret-3e8a1c5f7b9d'));
  const r = await waitFor('the new secret', async () => {
    const reply = await get('/default', bearer(token));
    return reply.status === 401 ? reply : undefined;
  });
  refused(t, r, '{"message":"Invalid signature"}');
  t.equal((await get('/default', bearer(signJwt(payload('hs-key'), 'another-secret-3e8a1c5f7b9d')))).status, 200);
  t.notMatch(bench.gw.logs(), token, 'no token in any log line');
  t.notMatch(bench.gw.logs(), HS_SECRET);
  t.notMatch(bench.gw.output(), token);
});

function configText(hsSecret: string): string {
  return [
    '_format_version: "3.0"',
    'services:',
    '  - name: up',
    `    url: http://127.0.0.1:${bench.upstream.port}`,
    '    routes:',
    ...ROUTES,
    ...consumers(hsSecret),
    '',
  ].join('\n');
}
