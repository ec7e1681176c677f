// Certificates made by the test with the openssl CLI (node:crypto cannot sign X.509): a CA, server certificates
// signed by it (exact names, wildcards, ECDSA or RSA), client certificates, expired ones. Each call works in its
// own temporary directory; results are PEM strings.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
