// Kong's rules for upstreams and targets beyond their fields' types (kong/db/schema/entities/upstreams.lua and
// targets.lua, kong/db/dao/targets.lua): the algorithm/hash_on shorthands, the entity checks, and how a target's
// `host:port` is read.
import { isIP } from 'node:net';

type Raw = Record<string, any>;

/**
 * Kong's shorthands, applied to the fields as written (before defaults): `least-connections` and `latency` drop
 * hash_on; a hash_on other than none makes the upstream consistent-hashing, hash_on `none` makes it round-robin.
 */
export function applyUpstreamShorthands(doc: Raw): void {
  const apply = (u: unknown) => {
    if (u === null || typeof u !== 'object' || Array.isArray(u)) return;
    const up = u as Raw;
    if (up.algorithm === 'least-connections' || up.algorithm === 'latency') {
      if ('hash_on' in up) up.hash_on = 'none';
      return;
    }
    if (typeof up.hash_on !== 'string') return;
    if (up.hash_on === 'none') up.algorithm = 'round-robin';
    else if (['consumer', 'ip', 'header', 'cookie', 'path', 'query_arg', 'uri_capture'].includes(up.hash_on)) up.algorithm = 'consistent-hashing';
  };
  if (Array.isArray(doc?.upstreams)) doc.upstreams.forEach(apply);
}

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** Why an upstream's name is refused (Kong: a hostname, no IP address, no port), or undefined. */
export function checkUpstreamName(name: string): string | undefined {
  const parsed = parseHostPort(name);
  if (parsed === undefined) return `Invalid name ('${name}'); must be a valid hostname`;
  if (parsed.ip) return `Invalid name ('${name}'); no ip addresses allowed`;
  if (parsed.port !== undefined) return `Invalid name ('${name}'); no port allowed`;
  return undefined;
}

export interface HostPort {
  host: string;
  port: number | undefined;
  ip: boolean;
}

/** `host`, `host:port`, `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port`; undefined when it is none of those. */
export function parseHostPort(text: string): HostPort | undefined {
  let host = text;
  let port: number | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end === -1) return undefined;
    host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest !== '') {
      if (!/^:\d{1,5}$/.test(rest)) return undefined;
      port = Number(rest.slice(1));
    }
    return isIP(host) === 6 && (port === undefined || port <= 65535) ? { host, port, ip: true } : undefined;
  }
  if (isIP(text) === 6) return { host: text, port: undefined, ip: true };
  const colon = text.lastIndexOf(':');
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(text.slice(colon + 1))) return undefined;
    port = Number(text.slice(colon + 1));
    if (port > 65535) return undefined;
    host = text.slice(0, colon);
  }
  if (isIP(host) === 4) return { host, port, ip: true };
  return HOSTNAME.test(host) && !/^[\d.]+$/.test(host) ? { host, port, ip: false } : undefined;
}

/** Kong's port for a target written without one (kong/db/dao/targets.lua). */
export const DEFAULT_TARGET_PORT = 8000;

/** A target as Kong stores it: `host:port` with the port filled in, an IPv6 address in brackets. */
export function formatTarget(p: HostPort): string {
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  return `${host}:${p.port ?? DEFAULT_TARGET_PORT}`;
}

/** [field, message] for each of Kong's upstream entity checks that `u` (defaults filled) fails. */
export function upstreamEntityChecks(u: Raw): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const required = (when: string, field: string) => {
    if (u[field] === undefined) out.push([field, `required field missing (${when})`]);
  };
  if (u.hash_on === 'header') required("hash_on is 'header'", 'hash_on_header');
  if (u.hash_fallback === 'header') required("hash_fallback is 'header'", 'hash_fallback_header');
  if (u.hash_on === 'cookie') required("hash_on is 'cookie'", 'hash_on_cookie');
  if (u.hash_fallback === 'cookie') required("hash_fallback is 'cookie'", 'hash_on_cookie');
  if (u.hash_on === 'query_arg') required("hash_on is 'query_arg'", 'hash_on_query_arg');
  if (u.hash_fallback === 'query_arg') required("hash_fallback is 'query_arg'", 'hash_fallback_query_arg');
  if (u.hash_on === 'uri_capture') required("hash_on is 'uri_capture'", 'hash_on_uri_capture');
  if (u.hash_fallback === 'uri_capture') required("hash_fallback is 'uri_capture'", 'hash_fallback_uri_capture');
  if ((u.hash_on === 'none' || u.hash_on === 'cookie') && u.hash_fallback !== 'none') {
    out.push(['hash_fallback', `expected one of: none (hash_on is '${u.hash_on}')`]);
  } else if (['consumer', 'ip', 'path'].includes(u.hash_on) && u.hash_fallback === u.hash_on) {
    out.push(['hash_fallback', `must not be the same as hash_on ('${u.hash_on}')`]);
  }
  for (const [a, b] of [
    ['hash_on_header', 'hash_fallback_header'],
    ['hash_on_query_arg', 'hash_fallback_query_arg'],
    ['hash_on_uri_capture', 'hash_fallback_uri_capture'],
  ]) {
    const same = a === 'hash_on_header' ? String(u[a]).toLowerCase() === String(u[b]).toLowerCase() : u[a] === u[b];
    if (u[a] !== undefined && u[b] !== undefined && same) out.push([b, `values of these fields must be distinct: '${a}', '${b}'`]);
  }
  for (const kind of ['active', 'passive'] as const) {
    const type = u.healthchecks?.[kind]?.type;
    if (type === 'grpc' || type === 'grpcs') out.push([`healthchecks.${kind}.type`, `'${type}' health checks are not supported by this gateway yet (gRPC is not proxied)`]);
  }
  return out;
}
