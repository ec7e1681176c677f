import type { JwtAlgorithm, JwtSecretEntity } from '../../config/entities';
import { isSymmetric, parsePublicKey, signatureCheck, type SignatureCheck } from './algorithms';

/** A jwt_secrets entry ready to check signatures: its key parsed or its secret decoded once, per snapshot. */
export interface JwtCredential {
  readonly entity: JwtSecretEntity;
  readonly algorithm: JwtAlgorithm;
  /** Undefined when the credential has nothing to check with (Kong's "Invalid key/secret"). */
  readonly check: SignatureCheck | undefined;
  /** The check when the plugin sets secret_is_base64: HS* with the secret base64-decoded; the same as `check` otherwise. */
  readonly checkBase64: SignatureCheck | undefined;
}

// Kong decodes a secret_is_base64 secret as base64url; the standard alphabet is accepted too.
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodedSecret(secret: string): Buffer | undefined {
  if (!BASE64.test(secret) || secret.replace(/=+$/, '').length % 4 === 1) return undefined;
  return Buffer.from(secret.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

export function compileJwtCredential(entity: JwtSecretEntity): JwtCredential {
  const algorithm = entity.algorithm;
  if (isSymmetric(algorithm)) {
    if (entity.secret === undefined) return { entity, algorithm, check: undefined, checkBase64: undefined };
    const decoded = decodedSecret(entity.secret);
    return {
      entity,
      algorithm,
      check: signatureCheck(algorithm, Buffer.from(entity.secret, 'utf8')),
      checkBase64: decoded === undefined ? undefined : signatureCheck(algorithm, decoded),
    };
  }
  const parsed = entity.rsa_public_key === undefined ? undefined : parsePublicKey(algorithm, entity.rsa_public_key).key;
  const check = parsed === undefined ? undefined : signatureCheck(algorithm, parsed);
  return { entity, algorithm, check, checkBase64: check };
}
