import { createHash, createHmac, generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

const HASH: Record<string, string | null> = {
  HS256: 'sha256', HS384: 'sha384', HS512: 'sha512', RS256: 'sha256', RS384: 'sha384', RS512: 'sha512',
  ES256: 'sha256', ES384: 'sha384', ES512: 'sha512', PS256: 'sha256', PS384: 'sha384', PS512: 'sha512', EdDSA: null,
};

/** A JWT as Kong's jwt_parser.encode makes it: header {typ, alg} unless given, claims, signature. */
export function signJwt(claims: object, key: string | Buffer | KeyObject, alg = 'HS256', header: object = { typ: 'JWT', alg }): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const hash = HASH[alg];
  let signature: Buffer;
  if (alg.startsWith('HS')) signature = createHmac(hash!, key as string | Buffer).update(input).digest();
  else if (alg.startsWith('ES')) signature = sign(hash, Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  else if (alg.startsWith('PS')) signature = sign(hash, Buffer.from(input), { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  else signature = sign(hash, Buffer.from(input), key as KeyObject);
  return `${input}.${b64url(signature)}`;
}

export interface TestKeyPair {
  privateKey: KeyObject;
  publicPem: string;
}

/** A fresh key pair for an asymmetric algorithm, the public half as PEM. */
export function keyPair(alg: string, curve?: string): TestKeyPair {
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  if (alg.startsWith('RS') || alg.startsWith('PS')) pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  else if (alg === 'EdDSA') pair = generateKeyPairSync((curve ?? 'ed25519') as 'ed25519');
  else pair = generateKeyPairSync('ec', { namedCurve: curve ?? { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' }[alg]! });
  return { privateKey: pair.privateKey, publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** An `Authorization: hmac …` value signing `lines` (already the signing string's lines) with `secret`. */
export function hmacAuthorization(username: string, secret: string, headers: string[], lines: string[], algorithm = 'hmac-sha256'): string {
  const hash = algorithm.replace('hmac-', '');
  const signature = createHmac(hash, secret).update(lines.join('\n')).digest('base64');
  return `hmac username="${username}", algorithm="${algorithm}", headers="${headers.join(' ')}", signature="${signature}"`;
}

/** An HTTP date (IMF-fixdate), `offset` seconds from now. */
export const httpDate = (offset = 0) => new Date(Date.now() + offset * 1000).toUTCString();

/** The Digest header value for a body. */
export const digestOf = (body: string | Buffer) => `SHA-256=${createHash('sha256').update(body).digest('base64')}`;

export const now = () => Math.floor(Date.now() / 1000);
