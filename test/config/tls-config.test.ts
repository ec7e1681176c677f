import t from 'tap';
import { checkConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';
import { errorsOf, snapshotOf, yaml } from '../helpers/config';
import { makeCa, makeLeaf } from '../helpers/tls';

const head = '_format_version: "3.0"';
const q = (s: string) => JSON.stringify(s);
const ca = makeCa();
const ec = makeLeaf(ca, { names: ['api.example.com'] });
const rsa = makeLeaf(ca, { names: ['api.example.com'], kind: 'rsa' });
const other = makeLeaf(ca, { names: ['other.example.com'] });
const expired = makeLeaf(ca, { names: ['old.example.com'], expired: true });

const certificate = (fields: string, snis = '') => yaml(head, 'certificates:', `  - {${fields}}`, ...(snis ? [`    ${snis}`] : []));
const unlocated = (e: string) => e.replace(/^kong\.yml:\d+:\d+: /, '');
const pair = (p: { cert: string; key: string }) => `cert: ${q(p.cert)}, key: ${q(p.key)}`;

t.test('kong/db/schema/entities/certificates.lua: cert and key parsed, the key must match', async (t) => {
  t.same(errorsOf(certificate(pair(ec))), []);
  t.match(errorsOf(certificate(`cert: ${q(ec.cert)}, key: ${q(other.key)}`)), [/^kong\.yml:3:\d+: certificates\[0\]\.key: certificate does not match key$/]);
  const bad = errorsOf(certificate(`cert: "-----BEGIN CERTIFICATE-----\\nnonsense\\n-----END CERTIFICATE-----", key: ${q(ec.key)}`));
  t.equal(bad.length, 1);
  t.match(bad[0], /kong\.yml:3:\d+: certificates\[0\]\.cert: invalid certificate: /);
  t.same(errorsOf(certificate(`cert: ${q(ec.cert)}, key: "not a key"`)).map(unlocated), [
    "certificates[0].key: invalid key: expected a PEM private key ('-----BEGIN PRIVATE KEY-----')",
  ]);
  t.same(errorsOf(yaml(head, 'certificates:', `  - {cert: ${q(ec.cert)}}`)), ['kong.yml:3:5: certificates[0].key: required field missing']);
});

t.test('no error or warning ever quotes a private key', async (t) => {
  const wrongKey = ec.key.replace(/\n[A-Za-z0-9+/]{8}/, '\nAAAAAAAA');
  const errors = errorsOf(certificate(`cert: ${q(ec.cert)}, key: ${q(wrongKey)}`)).join('\n');
  t.ok(errors.length > 0);
  for (const line of ec.key.split('\n').filter((l) => l.length > 20)) t.notOk(errors.includes(line.slice(0, 20)));
  t.same(errorsOf(certificate(`cert: ${q(ec.cert)}, key: "----…"`)).map((e) => e.replace(/^kong\.yml:\d+:\d+: /, '')), [
    'certificates[0].key: a masked key (as the Admin API shows private keys unless --admin-show-secrets): give the real key',
  ]);
});

t.test('cert_alt and key_alt: together, matching, of the other key type', async (t) => {
  t.same(errorsOf(certificate(`${pair(ec)}, cert_alt: ${q(rsa.cert)}, key_alt: ${q(rsa.key)}`)), []);
  t.match(errorsOf(certificate(`${pair(ec)}, cert_alt: ${q(rsa.cert)}`)), [/certificates\[0\]\.key_alt: all or none of these fields must be set: 'cert_alt', 'key_alt'/]);
  t.match(errorsOf(certificate(`${pair(ec)}, cert_alt: ${q(rsa.cert)}, key_alt: ${q(ec.key)}`)), [/certificates\[0\]\.key_alt: alternative certificate does not match key/]);
  t.match(errorsOf(certificate(`${pair(ec)}, cert_alt: ${q(other.cert)}, key_alt: ${q(other.key)}`)), [
    /certificates\[0\]\.cert_alt: certificate and alternative certificate need to have different type \(e\.g\. RSA and ECDSA\)/,
  ]);
});

t.test('an expired certificate loads with a warning at its cert', async (t) => {
  const checked = checkConfigText(certificate(pair(expired)), 'kong.yml');
  t.match(checked.warnings.map(formatIssue), [/^kong\.yml:3:\d+: warning: certificates\[0\]\.cert: certificate expired on \d{4}-.*clients will refuse it$/]);
});

t.test('kong/db/schema/entities/snis.lua: nested and top-level, exact and wildcard names, unique', async (t) => {
  const file = yaml(
    head,
    'certificates:',
    `  - id: 11111111-1111-4111-8111-111111111111`,
    `    ${pair(ec).replace(', key:', '\n    key:')}`,
    '    snis: [{name: API.example.com}, {name: "*.example.com"}]',
    `  - ${pair(other).replace(', key:', '\n    key:')}`,
    'snis:',
    '  - {name: "example.*", certificate: 11111111-1111-4111-8111-111111111111}',
    '  - {name: "*", certificate: 11111111-1111-4111-8111-111111111111}',
  );
  const snapshot = snapshotOf(file);
  t.same([...snapshot.certificateIdBySni.keys()], ['api.example.com', '*.example.com', 'example.*', '*']);
  t.same(snapshot.entities.certificates[0].snis, ['api.example.com', '*.example.com', 'example.*', '*']);
  t.equal(snapshot.certificatesById.get('11111111-1111-4111-8111-111111111111')!.x509.subject, 'CN=api.example.com');
  t.equal(snapshot.entities.certificates[1].id.length, 36, 'an id derived from the certificate');

  const sniErrors = (...names: string[]) =>
    errorsOf(yaml(head, 'certificates:', `  - {${pair(ec)}, snis: [${names.map((n) => `{name: ${q(n)}}`).join(', ')}]}`)).map(unlocated);
  t.same(sniErrors('a.*.com'), ['certificates[0].snis[0].name: wildcard must be leftmost or rightmost character']);
  t.same(sniErrors('*.a.*'), ['certificates[0].snis[0].name: only one wildcard must be specified']);
  t.same(sniErrors('10.0.0.1'), ['certificates[0].snis[0].name: must not be an IP']);
  t.same(sniErrors('a.com:443'), ['certificates[0].snis[0].name: must not have a port']);
  t.same(sniErrors('a.com', 'A.com'), ["certificates[0].snis[1].name: uniqueness violation: 'snis' entity with name set to 'a.com' already declared at certificates[0].snis[0]"]);
  t.same(errorsOf(yaml(head, 'snis: [{name: a.com, certificate: nope}]')), ["kong.yml:2:35: snis[0].certificate: invalid reference 'certificate: nope' (no such entry in 'certificates')"]);
});

t.test('kong/db/schema/entities/ca_certificates.lua: one CA certificate, not expired; cert_digest computed', async (t) => {
  const snapshot = snapshotOf(yaml(head, `ca_certificates: [{cert: ${q(ca.cert)}}]`));
  const [entity] = snapshot.entities.ca_certificates;
  t.match(entity.cert_digest, /^[0-9a-f]{64}$/);
  t.equal(snapshot.caCertificatesById.get(entity.id)!.x509.ca, true);
  const errors = (cert: string) => errorsOf(yaml(head, `ca_certificates: [{cert: ${q(cert)}}]`)).map((e) => e.replace(/^kong\.yml:\d+:\d+: /, ''));
  t.same(errors(ec.cert), ['ca_certificates[0].cert: certificate does not appear to be a CA because it is missing the "CA" basic constraint']);
  t.same(errors(ca.cert + ca.cert), ['ca_certificates[0].cert: please submit only one certificate at a time']);
  t.same(errors(ca.cert.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!')), [errors(ca.cert.replace(/\n[A-Za-z0-9+/]{10}/, '\n!!'))[0]]);
  t.match(errors('nonsense'), [/ca_certificates\[0\]\.cert: invalid certificate/]);
  t.same(errorsOf(yaml(head, `ca_certificates: [{cert: ${q(ca.cert)}}, {cert: ${q(ca.cert)}}]`)).length, 1, 'the same CA twice: cert_digest is unique');
});

t.test('route snis: https routes only; a route may match by snis alone', async (t) => {
  t.same(errorsOf(yaml(head, 'routes: [{protocols: [https], snis: ["*.example.com"]}]')), []);
  t.same(errorsOf(yaml(head, 'routes: [{protocols: [http], snis: [a.com], paths: [/]}]')), [
    "kong.yml:2:36: routes[0].snis: 'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'",
  ]);
  t.same(errorsOf(yaml(head, 'routes: [{protocols: [http], snis: [a.com]}]')).length, 2);
  t.same(snapshotOf(yaml(head, 'routes: [{snis: [API.Example.com]}]')).entities.routes[0].snis, ['api.example.com']);
});
