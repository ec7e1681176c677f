/*
 * undici checks the name of every request header it is given: a name in its table of common names is taken as it
 * is; any other is lower-cased, looked up again and checked character by character, on every request. The names
 * the gateway itself sends upstream on every request (X-Forwarded-*, X-Real-IP, X-Kong-Request-Id, the consumer
 * headers) are not in that table, so they are added to it once, at start: they are valid tokens already in lower
 * case, so undici takes them as it would have after its checks. Nothing else changes: client-sent names still go
 * through every check. If undici no longer keeps that table where it is looked for, nothing is added.
 */

/** Header names the gateway sets on upstream requests (lower case, as it sends them). */
export const GATEWAY_UPSTREAM_HEADER_NAMES: readonly string[] = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-path',
  'x-forwarded-prefix',
  'x-real-ip',
  'x-kong-request-id',
  'x-request-id',
  'x-consumer-id',
  'x-consumer-custom-id',
  'x-consumer-username',
  'x-credential-identifier',
  'x-anonymous-consumer',
  'x-consumer-groups',
  'x-authenticated-groups',
];

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** Adds the gateway's names to undici's table of known header names; false when the table was not found. */
export function addKnownUndiciHeaderNames(names: readonly string[] = GATEWAY_UPSTREAM_HEADER_NAMES): boolean {
  let table: Record<string, string | undefined> | undefined;
  try {
    table = (require('undici/lib/core/constants') as { headerNameLowerCasedRecord?: Record<string, string | undefined> }).headerNameLowerCasedRecord;
  } catch {
    return false;
  }
  // What the table must look like for an entry to mean "this lower-case name, valid": a common name mapped to itself.
  if (table === null || typeof table !== 'object' || table['content-type'] !== 'content-type') return false;
  for (const name of names) if (TOKEN.test(name)) table[name] ??= name;
  return true;
}
