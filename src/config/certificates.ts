// PEM certificates and private keys as the loader checks them (kong/db/schema/entities/certificates.lua,
// ca_certificates.lua, typedefs.lua validate_certificate / validate_key / validate_wildcard_host). No message ever
// quotes a private key: only what is wrong with it.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';

const CERT_TAG = '-----BEGIN CERTIFICATE-----';

/** The first certificate of a PEM text (a server certificate may be followed by its chain). */
export function parseCertificate(pem: string): { x509: X509Certificate; error?: undefined } | { error: string } {
  if (!pem.includes(CERT_TAG)) return { error: `invalid certificate: expected a PEM certificate ('${CERT_TAG}')` };
  try {
    return { x509: new X509Certificate(pem) };
  } catch (err) {
    return { error: `invalid certificate: ${opensslReason(err)}` };
  }
}

/** Every certificate of a PEM text, in order (the leaf, then its intermediates). */
export function certificateChain(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

export function parsePrivateKey(pem: string): { key: KeyObject; error?: undefined } | { error: string } {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    return { error: 'invalid key: an encrypted private key (give it without a passphrase)' };
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) return { error: "invalid key: expected a PEM private key ('-----BEGIN PRIVATE KEY-----')" };
  try {
    return { key: createPrivateKey(pem) };
  } catch (err) {
    return { error: `invalid key: ${opensslReason(err)}` };
  }
}

/** OpenSSL's reason, without anything of the input. */
function opensslReason(err: unknown): string {
  const e = err as { reason?: string; message?: string };
  return e.reason ?? e.message?.replace(/^error:[0-9A-F]+:/, '') ?? 'unreadable';
}

export function keyType(x509: X509Certificate): string {
  return x509.publicKey.asymmetricKeyType ?? 'unknown';
}

/** Not After, as a Date. */
export function expiresAt(x509: X509Certificate): Date {
  return new Date(x509.validTo);
}

export function isExpired(x509: X509Certificate, now = Date.now()): boolean {
  return expiresAt(x509).getTime() < now;
}

/** Kong's cert_digest: the hex SHA-256 of the certificate's DER. */
export function certDigest(x509: X509Certificate): string {
  return x509.fingerprint256.replace(/:/g, '').toLowerCase();
}

export function countCertificates(pem: string): number {
  let n = 0;
  for (let at = pem.indexOf(CERT_TAG); at !== -1; at = pem.indexOf(CERT_TAG, at + CERT_TAG.length)) n++;
  return n;
}

/**
 * Why an SNI name is refused (kong/db/schema/typedefs.lua validate_wildcard_host): at most one `*`, as the whole
 * leftmost or rightmost label; not an IP address; no port. `*` alone is Kong's catch-all SNI.
 */
export function checkSniName(name: string): string | undefined {
  if (name === '*') return undefined;
  const stars = name.split('*').length - 1;
  if (stars > 1) return 'only one wildcard must be specified';
  if (stars === 1 && !name.startsWith('*.') && !name.endsWith('.*')) return 'wildcard must be leftmost or rightmost character';
  const mock = name.replace('*', 'wildcard');
  if (/^\[|:/.test(mock)) return /^[^:]+:\d+$/.test(mock) ? 'must not have a port' : 'must not be an IP';
  if (/^\d+(\.\d+){3}$/.test(mock)) return 'must not be an IP';
  if (!/^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/.test(mock)) return `invalid value: ${name}`;
  return undefined;
}

/** A certificate entity parsed for serving: PEM text as given, and the parsed leaf of each pair. */
export interface ServerCertificate {
  readonly id: string;
  /** The certificate PEM, with any intermediates after it. */
  readonly cert: string;
  readonly key: string;
  readonly certAlt?: string;
  readonly keyAlt?: string;
  readonly x509: X509Certificate;
  readonly x509Alt?: X509Certificate;
}

export interface CaCertificate {
  readonly id: string;
  readonly cert: string;
  readonly x509: X509Certificate;
}

/** The entity parsed; the loader has checked it already, so a failure here is a bug, not the file's. */
export function serverCertificateOf(c: { id: string; cert: string; key: string; cert_alt?: string; key_alt?: string }): ServerCertificate {
  const parsed: { -readonly [K in keyof ServerCertificate]: ServerCertificate[K] } = { id: c.id, cert: c.cert, key: c.key, x509: new X509Certificate(c.cert) };
  if (c.cert_alt !== undefined && c.key_alt !== undefined) {
    parsed.certAlt = c.cert_alt;
    parsed.keyAlt = c.key_alt;
    parsed.x509Alt = new X509Certificate(c.cert_alt);
  }
  return Object.freeze(parsed);
}

export function caCertificateOf(c: { id: string; cert: string }): CaCertificate {
  return Object.freeze({ id: c.id, cert: c.cert, x509: new X509Certificate(c.cert) });
}
