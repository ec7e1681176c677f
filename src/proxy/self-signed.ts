// The default certificate when none is configured, as Kong makes one at its first start (kong/cmd/utils/
// prefix_handler.lua gen_default_ssl_cert: CN=localhost, an RSA and an ECDSA pair). node:crypto makes keys and
// signatures but no X.509, so the certificate's DER is written here: a v3 certificate, self-signed, with a
// subjectAltName for localhost. It lives in memory only: every start makes a new one.
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

export interface PemPair {
  cert: string;
  key: string;
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else if (n < 0x100) length = Buffer.from([0x81, n]);
  else if (n < 0x10000) length = Buffer.from([0x82, n >> 8, n & 0xff]);
  else length = Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const seq = (...c: Buffer[]) => der(0x30, ...c);
const set = (...c: Buffer[]) => der(0x31, ...c);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a * 40 + b];
  for (const v of rest) {
    const groups = [v & 0x7f];
    for (let x = v >>> 7; x > 0; x >>>= 7) groups.unshift((x & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return der(0x06, Buffer.from(bytes));
}

function integer(bytes: Buffer): Buffer {
  return der(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function utcTime(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return der(0x17, Buffer.from(s, 'ascii'));
}

const NAME = seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from('localhost')))));

const ALGORITHMS = {
  ec: seq(oid('1.2.840.10045.4.3.2')), // ecdsa-with-SHA256
  rsa: seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00])), // sha256WithRSAEncryption
};

function certificate(kind: 'ec' | 'rsa', publicKey: KeyObject, privateKey: KeyObject, years: number): string {
  const now = new Date();
  const notAfter = new Date(now.getTime() + years * 365 * 86400_000);
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  const extensions = der(
    0xa3,
    seq(
      seq(oid('2.5.29.17'), der(0x04, seq(der(0x82, Buffer.from('localhost'))))), // subjectAltName DNS:localhost
      seq(oid('2.5.29.19'), der(0x04, seq())), // basicConstraints: not a CA
    ),
  );
  const tbs = seq(
    der(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ALGORITHMS[kind],
    NAME,
    seq(utcTime(new Date(now.getTime() - 60_000)), utcTime(notAfter)),
    NAME,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  const cert = seq(tbs, ALGORITHMS[kind], der(0x03, Buffer.from([0]), signature));
  const body = cert.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

/** A self-signed certificate for localhost: ECDSA P-256, or RSA 2048. */
export function selfSignedCertificate(kind: 'ec' | 'rsa', years = 10): PemPair {
  const { publicKey, privateKey } =
    kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = certificate(kind, publicKey, privateKey, years);
  // Proves the encoding: a certificate node:crypto cannot read, or whose key does not match, never leaves here.
  if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })))) {
    throw new Error('the generated default certificate does not match its key');
  }
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
