import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Kong's proxy-cache key (kong/plugins/proxy-cache/cache_key.lua): the SHA-256, in hex, of
 * `prefix|method|uri|params|headers`, so a key computed here is the one Kong computes for the same ids and request.
 */

/** A query argument's value as nginx gives it: a string, `true` for a name without `=`, or several of these. */
export type ArgValue = string | true | Array<string | true>;

/** `consumer:route`, `route`, or `default` (Kong's prefix_uuid). */
export function prefixOf(consumerId: string | undefined, routeId: string | undefined): string {
  if (consumerId !== undefined && routeId !== undefined) return `${consumerId}:${routeId}`;
  return routeId ?? 'default';
}

/**
 * What Kong takes as the uri: nginx's request line with everything from the first `?` removed. Without a query the
 * protocol stays on the line (`GET /a HTTP/1.1`); with one it goes with the query (`GET /a`): Kong's quirk, kept so
 * keys are the same.
 */
export function requestLine(method: string, target: string, httpVersion: string, ignoreCase: boolean): string {
  const q = target.indexOf('?');
  const line = q === -1 ? `${method} ${target} HTTP/${httpVersion}` : `${method} ${target.slice(0, q)}`;
  return ignoreCase ? line.toLowerCase() : line;
}

// nginx's lua_max_uri_args: arguments past the 100th are not read.
const MAX_ARGS = 100;

function unescape(s: string): string {
  if (s.indexOf('%') === -1) return s.indexOf('+') === -1 ? s : s.replace(/\+/g, ' ');
  const plain = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plain);
  } catch {
    // nginx leaves a malformed escape as it is and decodes the rest.
    return plain.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return Buffer.from(run.replace(/%/g, ''), 'hex').toString('latin1');
      }
    });
  }
}

/** The query as nginx's ngx.req.get_uri_args reads it: decoded, repeated names collected, empty names skipped. */
export function queryArgs(rawQuery: string | null): Map<string, ArgValue> {
  const args = new Map<string, ArgValue>();
  if (rawQuery === null || rawQuery === '') return args;
  let count = 0;
  for (const part of rawQuery.split('&')) {
    if (count === MAX_ARGS) break;
    const eq = part.indexOf('=');
    const name = unescape(eq === -1 ? part : part.slice(0, eq));
    if (name === '') continue;
    const value: string | true = eq === -1 ? true : unescape(part.slice(eq + 1));
    count++;
    const seen = args.get(name);
    if (seen === undefined) args.set(name, value);
    else if (Array.isArray(seen)) seen.push(value);
    else args.set(name, [seen, value]);
  }
  return args;
}

/** One `name=value` piece of the key (Kong's generate_key_from): several values sorted and joined with commas. */
function piece(field: string, value: ArgValue | string[]): string {
  if (value === true) return field;
  if (Array.isArray(value)) {
    const values = value.map((v) => (v === true ? '' : v)).sort(byBytes);
    return `${field}=${values.join(',')}`;
  }
  return `${field}=${value}`;
}

/** Lua's string order: byte by byte. */
function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The query's part of the key: the `vary` arguments in their order, or every argument sorted by name. */
export function paramsKey(args: ReadonlyMap<string, ArgValue>, vary: readonly string[] | undefined): string {
  if (args.size === 0) return '';
  const fields = vary ?? [...args.keys()].sort(byBytes);
  const pieces: string[] = [];
  for (const field of fields) {
    const value = args.get(field);
    if (value !== undefined) pieces.push(piece(field, value));
  }
  return pieces.join(':');
}

/** A vary_headers entry: the name as configured (it goes in the key) and the header it reads. */
export interface VaryHeader {
  field: string;
  header: string;
}

/** Kong reads headers through a table that lower-cases names and turns `_` into `-`. */
export function varyHeader(field: string): VaryHeader {
  return { field, header: field.toLowerCase().replace(/_/g, '-') };
}

/** The headers' part of the key: only the configured headers the request carries; '' when none is configured. */
export function headersKey(headers: IncomingHttpHeaders, vary: readonly VaryHeader[]): string {
  let key = '';
  for (const v of vary) {
    const value = headers[v.header];
    if (value === undefined) continue;
    key = key === '' ? piece(v.field, value) : `${key}:${piece(v.field, value)}`;
  }
  return key;
}

export function cacheKey(prefix: string, method: string, uri: string, params: string, headers: string): string {
  return createHash('sha256').update(`${prefix}|${method}|${uri}|${params}|${headers}`).digest('hex');
}
