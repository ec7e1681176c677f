// The TLS settings of `gateway start`: Kong's ssl_cert / ssl_cert_key (comma-separated lists of PEM files or
// inline PEM; a second pair is the other key type: ECDSA + RSA), else a self-signed default made at start.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { keyType, parseCertificate, parsePrivateKey } from '../config/certificates';
import { selfSignedCertificate } from '../proxy/self-signed';
import type { CertificatePair, TlsSettings } from '../proxy/tls';

/** A list entry: inline PEM, or a file holding it. */
function pemOf(entry: string, what: string): string {
  if (entry.includes('-----BEGIN ')) return entry;
  try {
    return readFileSync(entry, 'utf8');
  } catch (err) {
    throw new Error(`${what}: cannot read '${entry}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Splits on commas between entries, never inside an inline PEM (whose base64 has none anyway). */
function entries(list: string): string[] {
  return list.split(',').map((e) => e.trim()).filter(Boolean);
}

/** The configured default certificate(s), checked as the loader checks a certificate entity; none when unset. */
export function configuredDefaultCertificate(certs: string | undefined, keys: string | undefined, certWhat: string, keyWhat: string): CertificatePair | undefined {
  if (certs === undefined && keys === undefined) return undefined;
  if (certs === undefined || keys === undefined) throw new Error(`${certWhat} and ${keyWhat} go together: set both or neither`);
  const certList = entries(certs).map((e) => pemOf(e, certWhat));
  const keyList = entries(keys).map((e) => pemOf(e, keyWhat));
  if (certList.length !== keyList.length) throw new Error(`${certWhat} lists ${certList.length} certificate(s) and ${keyWhat} ${keyList.length} key(s): one key per certificate`);
  if (certList.length > 2) throw new Error(`${certWhat}: at most two certificates (one ECDSA, one RSA)`);
  const types: string[] = [];
  certList.forEach((pem, i) => {
    const cert = parseCertificate(pem);
    if (cert.error !== undefined) throw new Error(`${certWhat} #${i + 1}: ${cert.error}`);
    const key = parsePrivateKey(keyList[i]);
    if (key.error !== undefined) throw new Error(`${keyWhat} #${i + 1}: ${key.error}`);
    if (!cert.x509.checkPrivateKey(key.key)) throw new Error(`${keyWhat} #${i + 1}: certificate does not match key`);
    types.push(keyType(cert.x509));
  });
  if (types.length === 2 && types[0] === types[1]) throw new Error(`${certWhat}: the two certificates must be of different key types (ECDSA and RSA)`);
  const pair: CertificatePair = { cert: certList[0], key: keyList[0] };
  if (certList.length === 2) {
    pair.certAlt = certList[1];
    pair.keyAlt = keyList[1];
  }
  return pair;
}

/** Kong's generated default: an ECDSA and an RSA certificate for localhost, kept in memory for this run. */
export function generatedDefaultCertificate(): CertificatePair {
  const ec = selfSignedCertificate('ec');
  const rsa = selfSignedCertificate('rsa');
  return { cert: ec.cert, key: ec.key, certAlt: rsa.cert, keyAlt: rsa.key };
}

export function tlsSettings(defaultCertificate: CertificatePair): TlsSettings {
  return { defaultCertificate, ticketKeys: randomBytes(48) };
}
