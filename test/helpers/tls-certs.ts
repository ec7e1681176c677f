// Certificate chains for the upstream TLS tests, on top of test/helpers/tls.ts (CAs and leaves made with the
// openssl CLI): intermediate CAs, the chain a server sends, a truly self-signed certificate, and https upstreams.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { makeCa, makeLeaf, type Pem } from './tls';

export interface TestCert extends Pem {
  /** This certificate, then the intermediates that issued it (never the root): what a server sends. */
  chain: string;
}

const roots = new WeakSet<TestCert>();

function inTemp<T>(f: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'gw-chain-'));
  try {
    return f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed root CA. */
export function rootCa(name: string): TestCert {
  const ca = { ...makeCa(name), chain: '' };
  ca.chain = ca.cert;
  roots.add(ca);
  return ca;
}

/** What `issuer` signed, with its chain: the issuer's chain after it unless the issuer is a root. */
function chained(pem: Pem, issuer: TestCert): TestCert {
  return { ...pem, chain: pem.cert + (roots.has(issuer) ? '' : issuer.chain) };
}

/** An intermediate CA `issuer` signs: what it issues carries it in its chain. */
export function intermediateCa(issuer: TestCert, name: string): TestCert {
  const pem = inTemp((dir) => {
    writeFileSync(join(dir, 'ca.crt'), issuer.cert);
    writeFileSync(join(dir, 'ca.key'), issuer.key);
    writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
    openssl(dir, ['req', ...EC, '-keyout', 'int.key', '-out', 'int.csr', '-subj', `/CN=${name}`]);
    openssl(dir, ['x509', '-req', '-in', 'int.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'int.crt', '-days', '30', '-extfile', 'ext.cnf']);
    return { cert: readFileSync(join(dir, 'int.crt'), 'utf8'), key: readFileSync(join(dir, 'int.key'), 'utf8') };
  });
  return chained(pem, issuer);
}

/** A server certificate for `names` (DNS names), or a client certificate, that `issuer` signs. */
export function issue(issuer: TestCert, names: string[], usage: 'server' | 'client' = 'server'): TestCert {
  return chained(makeLeaf(issuer, { names, usage }), issuer);
}

/** A self-signed server certificate (its own issuer, not a CA's). */
export function selfSigned(names: string[]): TestCert {
  const pem = inTemp((dir) => {
    const san = names.map((n) => `DNS:${n}`).join(',');
    openssl(dir, ['req', '-x509', ...EC, '-keyout', 'self.key', '-out', 'self.crt', '-days', '30', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`]);
    return { cert: readFileSync(join(dir, 'self.crt'), 'utf8'), key: readFileSync(join(dir, 'self.key'), 'utf8') };
  });
  return { ...pem, chain: pem.cert };
}

export interface TlsUpstream {
  port: number;
  /** The SNI of each request's connection ('' when none was sent). */
  servernames: string[];
  /** The client certificate's CN of each request's connection, when one was presented. */
  clientNames: Array<string | undefined>;
  close(): Promise<void>;
}

/**
 * A real https upstream on loopback answering 200 with its name. With `clientCa`, it demands a client certificate
 * that CA signed (the handshake fails without one).
 */
export function startTlsUpstream(server: TestCert, opts: { clientCa?: TestCert; name?: string } = {}): Promise<TlsUpstream> {
  const servernames: string[] = [];
  const clientNames: Array<string | undefined> = [];
  const options: https.ServerOptions = { cert: server.chain, key: server.key };
  if (opts.clientCa !== undefined) Object.assign(options, { ca: opts.clientCa.cert, requestCert: true, rejectUnauthorized: true });
  const srv = https.createServer(options, (req, res) => {
    const socket = req.socket as TLSSocket;
    servernames.push((socket as TLSSocket & { servername?: string | false }).servername || '');
    const peer = socket.getPeerCertificate();
    clientNames.push(peer?.subject?.CN);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(opts.name ?? 'it works');
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        port: (srv.address() as AddressInfo).port,
        servernames,
        clientNames,
        close: () =>
          new Promise<void>((r) => {
            srv.closeAllConnections();
            srv.close(() => r());
          }),
      });
    });
  });
}
