// A service's upstream TLS fields as Kong's services schema takes them (kong/db/schema/entities/services.lua):
// only on https services, depth 0 to 64, certificates that exist.
import t from 'tap';
import { checkConfigText } from '../../src/config/load';
import { formatIssue } from '../../src/config/errors';
import { errorsOf, snapshotOf, yaml } from '../helpers/config';
import { DEFAULT_TLS_VERIFY_DEPTH } from '../../src/config/upstream-tls';
import { makeCa, makeLeaf } from '../helpers/tls';

const head = '_format_version: "3.0"';
const warningsOf = (text: string) => checkConfigText(text, 'kong.yml').warnings.map(formatIssue);

t.test('TLS fields on a service that is not https: "value must be null", as Kong\'s entity checks say', async (t) => {
  t.same(
    errorsOf(yaml(head, 'services:', '  - name: plain', '    url: http://up', '    tls_verify: false', '    tls_verify_depth: 2', '    client_certificate: c1', '    ca_certificates: [a]')),
    [
      "kong.yml:5:17: services[0].tls_verify: value must be null: only an https service talks TLS to its upstream (protocol is 'http')",
      "kong.yml:6:23: services[0].tls_verify_depth: value must be null: only an https service talks TLS to its upstream (protocol is 'http')",
      "kong.yml:7:25: services[0].client_certificate: value must be null: only an https service talks TLS to its upstream (protocol is 'http')",
      "kong.yml:8:22: services[0].ca_certificates: value must be null: only an https service talks TLS to its upstream (protocol is 'http')",
    ],
  );
});

t.test('tls_verify_depth is between 0 and 64; tls_verify a boolean', async (t) => {
  t.same(errorsOf(yaml(head, 'services:', '  - {name: s, url: "https://up", tls_verify: true, tls_verify_depth: 65}')), [
    'kong.yml:3:70: services[0].tls_verify_depth: value should be between 0 and 64',
  ]);
  t.same(errorsOf(yaml(head, 'services:', '  - {name: s, url: "https://up", tls_verify: "yes"}')), ['kong.yml:3:46: services[0].tls_verify: expected a boolean']);
});

t.test('a client_certificate or ca_certificates id that does not exist is an error at its place', async (t) => {
  t.same(
    errorsOf(yaml(head, 'services:', '  - name: s', '    url: https://up', '    tls_verify: true', '    client_certificate: {id: no-such-cert}', '    ca_certificates: [no-such-ca]')),
    [
      "kong.yml:6:25: services[0].client_certificate: invalid reference 'client_certificate: no-such-cert' (no such entry in 'certificates')",
      "kong.yml:7:23: services[0].ca_certificates[0]: invalid reference 'no-such-ca' (no such entry in 'ca_certificates')",
    ],
  );
});

t.test('tls_verify_depth or ca_certificates while tls_verify is off: a warning (they would change nothing)', async (t) => {
  t.same(warningsOf(yaml(head, 'services:', '  - name: s', '    url: https://up', '    tls_verify_depth: 3', '    routes: [{paths: [/]}]')), [
    "kong.yml:5:23: warning: services[0].tls_verify_depth: has no effect: tls_verify is not set (off, as Kong's proxy_ssl_verify)",
  ]);
});

t.test("the snapshot holds each https service's TLS settings once, shared by its routes", async (t) => {
  const snapshot = snapshotOf(
    yaml(head, 'services:', '  - name: s', '    url: https://up', '    tls_verify: true', '    routes: [{name: a, paths: [/a]}, {name: b, paths: [/b]}]', '  - {name: p, url: "http://up", routes: [{name: c, paths: [/c]}]}'),
  );
  const [a, b, c] = [...snapshot.routes.values()];
  t.match(a.upstream!.tls, { verify: true, verifyDepth: DEFAULT_TLS_VERIFY_DEPTH, ca: undefined, cert: undefined });
  t.equal(a.upstream!.tls, b.upstream!.tls);
  t.equal(c.upstream!.tls, undefined);
  const off = snapshotOf(yaml(head, 'services: [{name: s, url: "https://up", routes: [{paths: [/]}]}]'));
  t.equal([...off.routes.values()][0].upstream!.tls!.verify, false, 'off unless set, as Kong');
  t.not([...off.routes.values()][0].upstream!.tls!.id, a.upstream!.tls!.id, 'different settings, different pools');
});

t.test('client_certificate and ca_certificates naming entities of the file: their PEMs are what the service connects with', async (t) => {
  const ca = makeCa('service CA');
  const clientCert = makeLeaf(ca, { names: ['gateway-client'], usage: 'client' });
  const text = yaml(
    head,
    'ca_certificates:',
    `  - {id: the-ca, cert: ${JSON.stringify(ca.cert)}}`,
    'certificates:',
    `  - {id: the-client, cert: ${JSON.stringify(clientCert.cert)}, key: ${JSON.stringify(clientCert.key)}}`,
    'services:',
    '  - name: s',
    '    url: https://up',
    '    tls_verify: true',
    '    tls_verify_depth: 3',
    '    client_certificate: the-client',
    '    ca_certificates: [the-ca]',
    '    routes: [{paths: [/]}]',
  );
  t.same(errorsOf(text), []);
  const tls = [...snapshotOf(text).routes.values()][0].upstream!.tls!;
  t.match(tls, { verify: true, verifyDepth: 3, ca: [ca.cert], cert: clientCert.cert });
  t.equal(tls.key, clientCert.key);
  t.notMatch(tls.id, /PRIVATE|BEGIN/, 'the pool key is a digest');
  t.notMatch(JSON.stringify(tls), /PRIVATE KEY/, 'the key is never serialized');
});
