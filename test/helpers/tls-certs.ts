// Certificates made by the test with the openssl CLI (scripts/test-servers.sh installs it): CAs, intermediates,
// server and client certificates, ECDSA P-256 (quick to make), valid for two days.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

export interface TestCert {
  /** This certificate, then the CAs that issued it up to (not including) the root: what a server sends. */
  chain: string;
  /** This certificate alone. */
  cert: string;
  key: string;
  /** Its files, for tools that read them. */
  certFile: string;
  keyFile: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

let counter = 0;
const roots = new WeakSet<TestCert>();
let workDir: string | undefined;

function dir(): string {
  workDir ??= mkdtempSync(join(tmpdir(), 'gateway-certs-'));
  return workDir;
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('cannot run openssl: install the openssl package (scripts/test-servers.sh)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

function read(certFile: string, keyFile: string, chainBelow: string): TestCert {
  const cert = readFileSync(certFile, 'utf8');
  return { cert, chain: cert + chainBelow, key: readFileSync(keyFile, 'utf8'), certFile, keyFile };
}

/** A self-signed root CA. */
export function rootCa(name = 'gateway test CA'): TestCert {
  const p = join(dir(), `ca-${++counter}`);
  openssl(['req', '-x509', ...EC, '-keyout', `${p}.key`, '-out', `${p}.crt`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const ca = read(`${p}.crt`, `${p}.key`, '');
  roots.add(ca);
  return ca;
}

export interface IssueOptions {
  /** A CA certificate (an intermediate) rather than a leaf. */
  ca?: boolean;
  /** DNS names and IP addresses the certificate is for (a server's); none for a client certificate. */
  names?: string[];
  /** A client certificate (extendedKeyUsage clientAuth) rather than a server one. */
  client?: boolean;
}

/** A certificate `issuer` signs. Its chain carries the issuer's chain when the issuer is an intermediate. */
export function issue(issuer: TestCert, commonName: string, opts: IssueOptions = {}): TestCert {
  const p = join(dir(), `cert-${++counter}`);
  const ext: string[] = [];
  if (opts.ca) ext.push('basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign');
  else {
    ext.push('basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', `extendedKeyUsage=${opts.client ? 'clientAuth' : 'serverAuth'}`);
    const names = opts.names ?? [];
    if (names.length > 0) ext.push(`subjectAltName=${names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}`);
  }
  writeFileSync(`${p}.ext`, `${ext.join('\n')}\n`);
  openssl(['req', ...EC, '-keyout', `${p}.key`, '-out', `${p}.csr`, '-subj', `/CN=${commonName}`]);
  openssl(['x509', '-req', '-in', `${p}.csr`, '-CA', issuer.certFile, '-CAkey', issuer.keyFile, '-CAcreateserial',
    '-out', `${p}.crt`, '-days', '2', '-extfile', `${p}.ext`]);
  // A server sends the intermediates, never the root its clients trust.
  return read(`${p}.crt`, `${p}.key`, roots.has(issuer) ? '' : issuer.chain);
}

/** An intermediate CA `issuer` signs: what it issues carries it in its chain. */
export function intermediateCa(issuer: TestCert, name: string): TestCert {
  return issue(issuer, name, { ca: true });
}

/** A self-signed server certificate for `names`. */
export function selfSigned(names: string[]): TestCert {
  const p = join(dir(), `self-${++counter}`);
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  openssl(['req', '-x509', ...EC, '-keyout', `${p}.key`, '-out', `${p}.crt`, '-days', '2', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`]);
  return read(`${p}.crt`, `${p}.key`, '');
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
