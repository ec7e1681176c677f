import t from 'tap';
import { checkConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';
import { errorsOf, snapshotOf, yaml } from '../helpers/config';
import { keyPair } from '../helpers/tokens';

const head = '_format_version: "3.0"';
const rsa = keyPair('RS256');
const ec256 = keyPair('ES256');
const ed = keyPair('EdDSA', 'ed25519');
const pem = (s: string) => JSON.stringify(s);
const secrets = (...entries: string[]) => errorsOf(yaml(head, 'consumers: [{username: c}]', 'jwt_secrets:', ...entries.map((e) => `  - {consumer: c, ${e}}`)));

t.test('kong/plugins/jwt/daos.lua: algorithm, rsa_public_key required for public-key algorithms, parsed at load', async (t) => {
  t.same(secrets(`key: a, algorithm: RS256, rsa_public_key: ${pem(rsa.publicPem)}`, `key: b, algorithm: PS512, rsa_public_key: ${pem(rsa.publicPem)}`, `key: c, algorithm: ES256, rsa_public_key: ${pem(ec256.publicPem)}`, `key: d, algorithm: EdDSA, rsa_public_key: ${pem(ed.publicPem)}`, 'key: e, secret: s3cret'), []);
  t.same(secrets('key: a, algorithm: RS256'), ['kong.yml:4:5: jwt_secrets[0].rsa_public_key: required field missing']);
  t.same(secrets('key: a, algorithm: ES384'), ['kong.yml:4:5: jwt_secrets[0].rsa_public_key: required field missing'], 'Kong accepts ES* without a key and fails every token');
  t.same(secrets('key: a, algorithm: RS256, rsa_public_key: "-----BEGIN PUBLIC KEY-----\\nnonsense\\n-----END PUBLIC KEY-----"'), [
    'kong.yml:4:61: jwt_secrets[0].rsa_public_key: invalid key (expected a PEM public key: an RSA key for RS256)',
  ]);
  t.same(secrets(`key: a, algorithm: ES256, rsa_public_key: ${pem(rsa.publicPem)}`), [
    'kong.yml:4:61: jwt_secrets[0].rsa_public_key: an RSA key does not fit ES256 (expected an EC P-256 key)',
  ]);
  t.same(secrets(`key: a, algorithm: ES384, rsa_public_key: ${pem(ec256.publicPem)}`), [
    'kong.yml:4:61: jwt_secrets[0].rsa_public_key: an EC P-256 key does not fit ES384 (expected an EC P-384 key)',
  ]);
  t.same(secrets(`key: a, algorithm: RS256, rsa_public_key: ${pem(ed.publicPem)}`), ['kong.yml:4:61: jwt_secrets[0].rsa_public_key: an Ed25519 key does not fit RS256 (expected an RSA key)']);
  t.same(secrets('key: a, algorithm: HS999, secret: x').length, 1);
});

t.test('a private key in rsa_public_key works, with a warning', async (t) => {
  const privatePem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const checked = checkConfigText(yaml(head, 'consumers: [{username: c}]', 'jwt_secrets:', `  - {consumer: c, key: a, algorithm: RS256, rsa_public_key: ${pem(privatePem)}}`), 'kong.yml');
  t.same(checked.warnings.map(formatIssue), ['kong.yml:4:61: warning: jwt_secrets[0].rsa_public_key: a private key: only its public key is used; anyone who can read this file can sign tokens with it']);
});

t.test('HS* secrets: required (Kong generates one nobody knows), never masked or a vault reference', async (t) => {
  t.same(secrets('key: a'), ['kong.yml:4:5: jwt_secrets[0].secret: required field missing for HS256 (Kong would generate a random secret, which no client could know)']);
  t.same(secrets('key: a, secret: "abcd…"'), ['kong.yml:4:35: jwt_secrets[0].secret: a masked secret (as the Admin API shows secrets unless --admin-show-secrets): give the real secret']);
  t.same(secrets('key: a, secret: "{vault://env/JWT_SECRET}"'), ['kong.yml:4:35: jwt_secrets[0].secret: vault references are not supported: give the secret itself']);
});

t.test('jwt key: unique; without one, the credential id (Kong: random)', async (t) => {
  t.same(secrets('key: same, secret: a', 'key: same, secret: b'), [
    "kong.yml:5:24: jwt_secrets[1].key: uniqueness violation: 'jwt_secrets' entity with key set to 'same' already declared at jwt_secrets[0]",
  ]);
  const snapshot = snapshotOf(yaml(head, 'consumers:', '  - username: c', '    jwt_secrets: [{secret: s, id: 1b2c3d4e-0000-4000-8000-000000000001}, {secret: t}]'));
  const [given, derived] = snapshot.entities.jwt_secrets;
  t.equal(given.key, '1b2c3d4e-0000-4000-8000-000000000001');
  t.equal(derived.key, derived.id);
  t.equal(snapshotOf(yaml(head, 'consumers:', '  - username: c', '    jwt_secrets: [{secret: s}, {secret: t}]')).entities.jwt_secrets[1].key, derived.key, 'the same on every load');
  t.ok(snapshot.jwtByKey.get(derived.key));
});

t.test('top-level jwt_secrets and hmacauth_credentials name their consumer', async (t) => {
  t.same(errorsOf(yaml(head, 'consumers: [{username: c}]', 'jwt_secrets: [{consumer: c, key: k, secret: s}]', 'hmacauth_credentials: [{consumer: c, username: u, secret: s}]')), []);
  t.same(errorsOf(yaml(head, 'jwt_secrets: [{key: k, secret: s}]')), ['kong.yml:2:15: jwt_secrets[0].consumer: required field missing']);
  t.same(errorsOf(yaml(head, 'hmacauth_credentials: [{consumer: nobody, username: u, secret: s}]')), [
    "kong.yml:2:35: hmacauth_credentials[0].consumer: invalid reference 'consumer: nobody' (no such entry in 'consumers')",
  ]);
  t.same(errorsOf(yaml(head, 'consumers: [{username: c, jwt_secrets: [{consumer: c, key: k, secret: s}]}]')).length, 1);
});

t.test('kong/plugins/hmac-auth/daos.lua: username required and unique; secret required here', async (t) => {
  const hmac = (...entries: string[]) => errorsOf(yaml(head, 'consumers:', '  - username: c', '    hmacauth_credentials:', ...entries.map((e) => `      - {${e}}`)));
  t.same(hmac('username: u, secret: s'), []);
  t.same(hmac('secret: s').length, 1);
  t.same(hmac('username: u'), ['kong.yml:5:9: consumers[0].hmacauth_credentials[0].secret: required field missing (Kong would generate a random secret, which no client could know)']);
  t.same(hmac('username: u, secret: a', 'username: u, secret: b'), [
    "kong.yml:6:20: consumers[0].hmacauth_credentials[1].username: uniqueness violation: 'hmacauth_credentials' entity with username set to 'u' already declared at consumers[0].hmacauth_credentials[0]",
  ]);
  t.same(hmac('username: u, secret: "{vault://env/S}"'), ['kong.yml:5:31: consumers[0].hmacauth_credentials[0].secret: vault references are not supported: give the secret itself']);
});

t.test('kong/plugins/jwt/schema.lua and spec/03-plugins/16-jwt/06-schema_spec.lua', async (t) => {
  const jwt = (config: string) => errorsOf(yaml(head, `plugins: [{name: jwt, config: ${config}}]`));
  t.same(jwt('{maximum_expiration: 60, claims_to_verify: [exp, nbf]}'), []);
  t.same(jwt('{maximum_expiration: -1, claims_to_verify: [exp, nbf]}'), ['kong.yml:2:52: plugins[0].config.maximum_expiration: value should be between 0 and 31536000']);
  t.same(jwt('{maximum_expiration: 31536001, claims_to_verify: [exp]}'), ['kong.yml:2:52: plugins[0].config.maximum_expiration: value should be between 0 and 31536000']);
  t.same(jwt('{maximum_expiration: 60, claims_to_verify: [nbf]}'), ['kong.yml:2:74: plugins[0].config.claims_to_verify: expected to contain: exp']);
  t.same(jwt('{maximum_expiration: 60}'), ['kong.yml:2:31: plugins[0].config.claims_to_verify: expected to contain: exp']);
  t.equal(jwt('{claims_to_verify: [iat]}').length, 1);
  t.equal(jwt('{header_names: ["bad header"]}').length, 1);
  t.equal(jwt('{realm: "a\\"b"}').length, 1);
  t.same(jwt('{anonymous: nobody}'), ["kong.yml:2:43: plugins[0].config.anonymous: anonymous consumer 'nobody' does not exist (expected the id or username of a consumer)"]);
  t.same(errorsOf(yaml(head, 'consumers: [{username: c, plugins: [{name: jwt}]}]')), ["kong.yml:2:44: consumers[0].plugins[0].name: value must be null ('jwt' identifies consumers, so it cannot be scoped to one)"]);
});

t.test('kong/plugins/hmac-auth/schema.lua', async (t) => {
  const hmac = (config: string) => errorsOf(yaml(head, `plugins: [{name: hmac-auth, config: ${config}}]`));
  t.same(hmac('{clock_skew: 10, enforce_headers: [date], algorithms: [hmac-sha256], validate_request_body: true, hide_credentials: true, realm: r}'), []);
  t.equal(hmac('{clock_skew: 0}').length, 1);
  t.equal(hmac('{algorithms: [hmac-md5]}').length, 1);
  t.equal(hmac('{run_on_preflight: false}').length, 1, 'hmac-auth has no run_on_preflight');
});
