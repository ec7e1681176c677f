import { constants, createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import type { JwtAlgorithm } from '../../config/entities';

/** Kong 3.x's algorithms (kong/plugins/jwt/daos.lua). */
export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = [
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA',
];
const KNOWN: ReadonlySet<string> = new Set(JWT_ALGORITHMS);

export const isJwtAlgorithm = (alg: unknown): alg is JwtAlgorithm => typeof alg === 'string' && KNOWN.has(alg);
export const isSymmetric = (alg: JwtAlgorithm): boolean => alg.charCodeAt(0) === 72; /* H */

const HASH: Record<JwtAlgorithm, string | null> = {
  HS256: 'sha256', HS384: 'sha384', HS512: 'sha512',
  RS256: 'sha256', RS384: 'sha384', RS512: 'sha512',
  ES256: 'sha256', ES384: 'sha384', ES512: 'sha512',
  PS256: 'sha256', PS384: 'sha384', PS512: 'sha512',
  EdDSA: null,
};

// RFC 7518 §3.4: the curve each ES algorithm signs with, and its raw r||s signature length.
const CURVE: Partial<Record<JwtAlgorithm, { name: string; shown: string; signatureLength: number }>> = {
  ES256: { name: 'prime256v1', shown: 'P-256', signatureLength: 64 },
  ES384: { name: 'secp384r1', shown: 'P-384', signatureLength: 96 },
  ES512: { name: 'secp521r1', shown: 'P-521', signatureLength: 132 },
};

function expectedKey(alg: JwtAlgorithm): string {
  if (alg.startsWith('RS')) return 'an RSA key';
  if (alg.startsWith('PS')) return 'an RSA or RSA-PSS key';
  if (alg === 'EdDSA') return 'an Ed25519 or Ed448 key';
  return `an EC ${CURVE[alg]!.shown} key`;
}

const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
const KEY_TYPES: Record<string, string> = { rsa: 'an RSA key', 'rsa-pss': 'an RSA-PSS key', ed25519: 'an Ed25519 key', ed448: 'an Ed448 key' };

function describe(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? 'unknown';
  if (type !== 'ec') return KEY_TYPES[type] ?? `a key of type ${type}`;
  const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
  return `an EC ${CURVE_NAMES[curve] ?? curve} key`;
}

function fits(alg: JwtAlgorithm, key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  if (alg.startsWith('RS')) return type === 'rsa';
  if (alg.startsWith('PS')) return type === 'rsa' || type === 'rsa-pss';
  if (alg === 'EdDSA') return type === 'ed25519' || type === 'ed448';
  return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === CURVE[alg]!.name;
}

export interface PublicKeyCheck {
  key?: KeyObject;
  error?: string;
  /** The PEM held a private key: it works (its public half is used), but it need not be in the file. */
  privateKeyGiven?: boolean;
}

/** Parses `pem` for `alg` once, when the config is loaded: a bad PEM or a key of the wrong kind is an error here. */
export function parsePublicKey(alg: JwtAlgorithm, pem: string): PublicKeyCheck {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return { error: `invalid key (expected a PEM public key: ${expectedKey(alg)} for ${alg})` };
  }
  if (!fits(alg, key)) return { error: `${describe(key)} does not fit ${alg} (expected ${expectedKey(alg)})` };
  return { key, privateKeyGiven: /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem) };
}

/** Checks a signature over `input` with `key`: a shared secret (HS*) or a public key parsed by parsePublicKey. */
export type SignatureCheck = (input: Buffer, signature: Buffer) => boolean;

export function signatureCheck(alg: JwtAlgorithm, key: Buffer | KeyObject): SignatureCheck {
  const hash = HASH[alg];
  if (Buffer.isBuffer(key)) {
    // Compared in constant time: how much of a forged signature matched must not show in the answer's timing.
    return (input, signature) => {
      const expected = createHmac(hash!, key).update(input).digest();
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    };
  }
  const curve = CURVE[alg];
  if (curve !== undefined) {
    const options = { key, dsaEncoding: 'ieee-p1363' as const };
    return (input, signature) => signature.length === curve.signatureLength && safeVerify(hash, input, options, signature);
  }
  if (alg.startsWith('PS')) {
    // Any salt length, as Kong's OpenSSL verification accepts.
    const options = { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO };
    return (input, signature) => safeVerify(hash, input, options, signature);
  }
  return (input, signature) => safeVerify(hash, input, key, signature);
}

/** A signature OpenSSL cannot even read (wrong size for the key) is a bad signature, not an error. */
function safeVerify(hash: string | null, input: Buffer, key: Parameters<typeof verify>[2], signature: Buffer): boolean {
  try {
    return verify(hash, input, key, signature);
  } catch {
    return false;
  }
}
