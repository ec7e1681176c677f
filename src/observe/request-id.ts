import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * An incoming X-Request-Id is kept when it is 1–200 characters of letters, digits and `.`, `_`, `:`, `-`: enough
 * for UUIDs, ULIDs, W3C trace ids and most tracing prefixes, and nothing that could break a log line, a header
 * or a JSON body. Anything else is replaced, never trimmed or escaped.
 */
export const MAX_REQUEST_ID_LENGTH = 200;
const ACCEPTED = /^[A-Za-z0-9._:-]+$/;

const PREFIX = randomBytes(10).toString('hex');
let counter = 0;
// The counter's last two hex digits come from a table and the rest is redone once every 256 ids: no number
// formatting per request.
const LOW_DIGITS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
let head = headFor(0);

function headFor(n: number): string {
  return PREFIX + Math.floor(n / 256).toString(16).padStart(10, '0');
}

/** 32 hex digits, as Kong's request ids: unique per process (random prefix) and per request (counter). */
export function generateRequestId(): string {
  counter = (counter + 1) % 0x1000000000000;
  const low = counter & 0xff;
  if (low === 0) head = headFor(counter);
  return head + LOW_DIGITS[low];
}

/** The request's id: the client's X-Request-Id when it is acceptable, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && given.length <= MAX_REQUEST_ID_LENGTH && ACCEPTED.test(given)) return given;
  return generateRequestId();
}
