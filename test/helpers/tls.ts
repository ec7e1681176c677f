// Certificates made by the test with the openssl CLI (node:crypto cannot sign X.509): a CA, server certificates
// signed by it (exact names, wildcards, ECDSA or RSA), client certificates, expired ones. Each call works in its
// own temporary directory; results are PEM strings.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequestRaw, type Agent } from 'node:https';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { connect } from 'node:tls';

export interface Pem {
  cert: string;
  key: string;
}

export type KeyKind = 'ec' | 'rsa';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKey(dir: string, kind: KeyKind, file: string): void {
  if (kind === 'ec') openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  else openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file]);
}

function inTemp<T>(f: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'gw-tls-'));
  try {
    return f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A self-signed CA (basicConstraints CA:TRUE). */
export function makeCa(name = 'Test CA', kind: KeyKind = 'ec'): Pem {
  return inTemp((dir) => {
    newKey(dir, kind, 'ca.key');
    openssl(dir, [
      'req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    return { cert: readFileSync(join(dir, 'ca.crt'), 'utf8'), key: readFileSync(join(dir, 'ca.key'), 'utf8') };
  });
}

export interface LeafOptions {
  /** DNS names (subjectAltName); the first is also the CN. */
  names: string[];
  kind?: KeyKind;
  /** serverAuth (default) or clientAuth. */
  usage?: 'server' | 'client';
  /** Already expired: valid from two days ago to yesterday. */
  expired?: boolean;
}

/** A certificate signed by `ca`. */
export function makeLeaf(ca: Pem, options: LeafOptions): Pem {
  return inTemp((dir) => {
    writeFileSync(join(dir, 'ca.crt'), ca.cert);
    writeFileSync(join(dir, 'ca.key'), ca.key);
    newKey(dir, options.kind ?? 'ec', 'leaf.key');
    openssl(dir, ['req', '-new', '-key', 'leaf.key', '-out', 'leaf.csr', '-subj', `/CN=${options.names[0]}`]);
    const ext = [
      options.names.length > 0 ? `subjectAltName=${options.names.map((n) => `DNS:${n}`).join(',')}` : '',
      'basicConstraints=CA:FALSE',
      `extendedKeyUsage=${options.usage === 'client' ? 'clientAuth' : 'serverAuth'}`,
    ].filter(Boolean);
    writeFileSync(join(dir, 'ext.cnf'), `${ext.join('\n')}\n`);
    if (options.expired) {
      // `openssl x509 -req` cannot back-date a certificate in OpenSSL 3.0; `openssl ca` can.
      writeFileSync(join(dir, 'index.txt'), '');
      writeFileSync(join(dir, 'serial'), '1000\n');
      const conf = ['[ca]', 'default_ca=d', '[d]', 'database=index.txt', 'serial=serial', 'new_certs_dir=.', 'default_md=sha256', 'policy=p', '[p]', 'commonName=supplied'];
      writeFileSync(join(dir, 'ca.cnf'), `${conf.join('\n')}\n`);
      openssl(dir, [
        'ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-in', 'leaf.csr', '-out', 'leaf.crt',
        '-extfile', 'ext.cnf', '-notext', '-startdate', utcTime(-2), '-enddate', utcTime(-1),
      ]);
    } else {
      openssl(dir, ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.crt', '-extfile', 'ext.cnf', '-days', '30']);
    }
    return { cert: readFileSync(join(dir, 'leaf.crt'), 'utf8'), key: readFileSync(join(dir, 'leaf.key'), 'utf8') };
  });
}

/** UTC time `days` from now as openssl ca's -startdate/-enddate want it (YYYYMMDDHHMMSSZ). */
function utcTime(days: number): string {
  return new Date(Date.now() + days * 86400_000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

/** A self-signed server certificate for `names` (not a CA). */
export function makeSelfSigned(names: string[], kind: KeyKind = 'ec'): Pem {
  return makeLeaf(makeCa(names[0], kind), { names, kind });
}

/** The ports of a gateway's proxy listeners, from its start line: [plain ports, ssl ports, ssl http2 ports]. */
export function listenerPorts(logs: string): { plain: number[]; ssl: number[]; h2: number[] } {
  const m = /"proxy_listeners":\[([^\]]*)\]/.exec(logs);
  if (m === null) throw new Error(`no proxy_listeners in:\n${logs}`);
  const out = { plain: [] as number[], ssl: [] as number[], h2: [] as number[] };
  for (const entry of JSON.parse(`[${m[1]}]`) as string[]) {
    const port = Number(/:(\d+)/.exec(entry)![1]);
    if (entry.endsWith(' ssl http2')) out.h2.push(port);
    else if (entry.endsWith(' ssl')) out.ssl.push(port);
    else out.plain.push(port);
  }
  return out;
}

/** The subject CN of the certificate a TLS listener serves for `servername` (none: no SNI sent); `sigalgs` limits what the client can verify. */
export function servedCertificate(port: number, servername?: string, sigalgs?: string): Promise<{ cn: string; keyType: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ...(sigalgs ? { sigalgs } : {}) }, () => {
      const cert = socket.getPeerCertificate();
      const keyType = (cert as { asn1Curve?: string }).asn1Curve !== undefined ? 'ec' : 'rsa';
      resolve({ cn: String(cert.subject.CN), keyType });
      socket.end();
    });
    socket.on('error', reject);
  });
}

export interface TlsReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json(): any;
}

/** One HTTPS/1.1 request on a fresh connection, with `servername` as SNI; the certificate is not verified. */
export function httpsRequest(port: number, path: string, opts: { servername?: string; headers?: Record<string, string>; method?: string; agent?: Agent } = {}): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequestRaw(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', servername: opts.servername, headers: opts.headers, rejectUnauthorized: false, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP/2 request on `session`. */
export function h2Request(session: ClientHttp2Session, path: string, headers: Record<string, string> = {}, body?: string): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':method': body === undefined ? 'GET' : 'POST', ...headers });
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h as IncomingHttpHeaders;
    });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status, headers: responseHeaders, body: text, json: () => JSON.parse(text) });
    });
    stream.on('error', reject);
    stream.end(body);
  });
}

export function h2Connect(port: number, servername?: string): ClientHttp2Session {
  return http2Connect(`https://127.0.0.1:${port}`, { servername, rejectUnauthorized: false });
}
