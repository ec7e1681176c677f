import { isJwtAlgorithm } from './algorithms';
import type { JwtAlgorithm } from '../../config/entities';

/** A JWT taken apart as Kong's jwt_parser.lua does, before any signature or claim is checked. */
export interface ParsedToken {
  readonly alg: JwtAlgorithm;
  readonly header: Record<string, unknown>;
  readonly claims: Record<string, unknown>;
  /** `header.claims` as sent, the bytes the signature covers. */
  readonly signingInput: Buffer;
  readonly signature: Buffer;
}

// base64url as Kong decodes it: its alphabet only, padding optional, never a length of 4n+1.
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

function decodeBase64url(s: string): Buffer | undefined {
  if (!BASE64URL.test(s)) return undefined;
  const bare = s.replace(/=+$/, '');
  if (bare.length % 4 === 1) return undefined;
  return Buffer.from(bare, 'base64url');
}

function decodeJson(s: string): unknown {
  const bytes = decodeBase64url(s);
  if (bytes === undefined) return INVALID;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return INVALID;
  }
}

const INVALID = Symbol('invalid');
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The token's parts, or the reason Kong gives after "Bad token; ". Like Kong, the token splits at its first two
 * dots (the rest is the signature). Where Kong fails with a 500 (a header or claims that is JSON but no object),
 * this answers "invalid alg" / "invalid claims" instead.
 */
export function parseToken(token: string): ParsedToken | string {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1) return 'invalid JSON';
  const header = decodeJson(token.slice(0, first));
  const claims = decodeJson(token.slice(first + 1, second));
  if (header === INVALID || claims === INVALID) return 'invalid JSON';
  const signature = decodeBase64url(token.slice(second + 1));
  if (!isObject(header) || !isJwtAlgorithm(header.alg)) return 'invalid alg';
  if (!isObject(claims)) return 'invalid claims';
  if (signature === undefined) return 'invalid signature';
  return { alg: header.alg, header, claims, signingInput: Buffer.from(token.slice(0, second), 'latin1'), signature };
}
