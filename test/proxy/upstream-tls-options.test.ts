// The TLS options both forwarders connect with (src/proxy/upstream-tls-options.ts), against real TLS servers:
// verification with given CAs, the depth limit, the client certificate.
import t from 'tap';
import https from 'node:https';
import { Pool } from 'undici';
import { upstreamTlsOf } from '../../src/config/upstream-tls';
import { tlsConnectOptions } from '../../src/proxy/upstream-tls-options';
import type { ServiceEntity } from '../../src/config/entities';
import { intermediateCa, issue, rootCa, startTlsUpstream, type TestCert, type TlsUpstream } from '../helpers/tls-certs';

const root = rootCa('options root');
const otherRoot = rootCa('some other root');
const clientRoot = rootCa('client root');
const client = issue(clientRoot, ['gateway-client'], 'client');
const oneIntermediate = intermediateCa(root, 'options intermediate');

const service = (fields: Partial<ServiceEntity>): ServiceEntity => ({
  id: 's', protocol: 'https', host: 'localhost', port: 443, retries: 0, connect_timeout: 1000, read_timeout: 1000, write_timeout: 1000, enabled: true, ...fields,
});
const certs: Record<string, TestCert> = { root, otherRoot, client };
const lookup = {
  certificate: (id: string) => (certs[id] === undefined ? undefined : { cert: certs[id].chain, key: certs[id].key }),
  caCertificate: (id: string) => certs[id]?.cert,
};
const optionsFor = (fields: Partial<ServiceEntity>) => tlsConnectOptions(upstreamTlsOf(service(fields), lookup)!);

/** A GET through node:https with these options: the body, or the error's code. */
function viaHttps(port: number, fields: Partial<ServiceEntity>): Promise<string> {
  return new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', servername: 'localhost', port, path: '/', agent: false, ...optionsFor(fields) }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** The same through an undici Pool built as forward-undici.ts builds it. */
async function viaUndici(port: number, fields: Partial<ServiceEntity>): Promise<string> {
  const pool = new Pool(`https://localhost:${port}`, { connect: { ...optionsFor(fields), timeout: 1000 } as never });
  try {
    const res = await pool.request({ path: '/', method: 'GET' });
    return await res.body.text();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    return e.code ?? e.message;
  } finally {
    await pool.destroy();
  }
}

let rootSigned: TlsUpstream;
let chained: TlsUpstream;
let mutual: TlsUpstream;
t.before(async () => {
  rootSigned = await startTlsUpstream(issue(root, ['localhost']), { name: 'root-signed' });
  chained = await startTlsUpstream(issue(oneIntermediate, ['localhost']), { name: 'chained' });
  mutual = await startTlsUpstream(issue(root, ['localhost']), { name: 'mutual', clientCa: clientRoot });
});
t.teardown(async () => {
  for (const u of [rootSigned, chained, mutual]) await u?.close();
});

for (const [name, get] of [['node:https', viaHttps], ['undici', viaUndici]] as const) {
  t.test(`${name}: ca_certificates are the only CAs trusted`, async (t) => {
    t.equal(await get(rootSigned.port, { tls_verify: true, ca_certificates: ['root'] }), 'root-signed');
    t.equal(await get(rootSigned.port, { tls_verify: true, ca_certificates: ['otherRoot'] }), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    t.equal(await get(rootSigned.port, { ca_certificates: ['otherRoot'] }), 'root-signed', 'tls_verify off: nothing is checked');
  });

  t.test(`${name}: depth 0 refuses one intermediate, depth 1 accepts it (Kong: 18-upstream_tls_spec tls_verify_depth)`, async (t) => {
    t.equal(await get(chained.port, { tls_verify: true, ca_certificates: ['root'], tls_verify_depth: 0 }), 'CERT_CHAIN_TOO_LONG');
    t.equal(await get(chained.port, { tls_verify: true, ca_certificates: ['root'], tls_verify_depth: 1 }), 'chained');
    t.equal(await get(rootSigned.port, { tls_verify: true, ca_certificates: ['root'], tls_verify_depth: 0 }), 'root-signed');
  });

  t.test(`${name}: the client certificate is presented to an upstream that demands one`, async (t) => {
    t.equal(await get(mutual.port, { client_certificate: 'client' }), 'mutual');
    t.equal(mutual.clientNames.at(-1), 'gateway-client');
    const without = await get(mutual.port, {});
    t.not(without, 'mutual', `refused without one (${without})`);
  });
}
