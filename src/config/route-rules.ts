// Validators for route fields, after Kong 3.x `kong/db/schema/typedefs.lua` (router_path, hosts,
// http_method, headers) and `kong/tools/ip.lua` (hostname checks). Each returns an error message or null.

import { isIPv6 } from 'node:net';
import { normalizePath } from '../proxy/paths';

/**
 * Compiles the regex of a `~` route path (the text after `~`) the way the router uses it: anchored at the
 * start only (`^` is prepended, as Kong does), Unicode mode when the pattern allows it (Kong's router uses
 * Rust's `regex`, which is Unicode-aware), `(?P<name>…)` accepted as a named group, and a leading `(?i)`
 * turned into the `i` flag. Throws the JS SyntaxError when the pattern doesn't compile.
 */
export function compileRoutePathRegex(pattern: string, extraFlags = ''): RegExp {
  let source = pattern.replace(/\(\?P</g, '(?<');
  let flags = extraFlags;
  if (source.startsWith('(?i)')) {
    source = source.slice(4);
    if (!flags.includes('i')) flags += 'i';
  }
  return compileWithFallback('^' + source, flags);
}

/** Compiles with the `u` flag when the pattern is valid in Unicode mode, else without it. */
export function compileWithFallback(source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags + 'u');
  } catch {
    return new RegExp(source, flags);
  }
}

function invalidPercent(p: string): string | null {
  for (let i = p.indexOf('%'); i !== -1; i = p.indexOf('%', i + 1)) {
    if (!/^%[0-9A-Fa-f]{2}/.test(p.slice(i, i + 3))) return p.slice(i, i + 3);
    i += 2;
  }
  return null;
}

/** A route `paths` element. */
export function checkRoutePath(p: string): string | null {
  if (typeof p !== 'string') return 'expected a string';
  const first = p.charCodeAt(0);
  if (first !== 47 /* / */ && first !== 126 /* ~ */) return 'must start with "/" or "~"';
  if (p.includes('//')) return 'must not have empty segments';
  if (first === 126) {
    const re = p.slice(1);
    try {
      compileRoutePathRegex(re);
    } catch (err) {
      return `invalid regex: '${re}' (${(err as Error).message})`;
    }
    return null;
  }
  const badEscape = invalidPercent(p);
  if (badEscape !== null) return `invalid url-encoded value: '${badEscape}'`;
  const normalized = normalizePath(p);
  if (normalized !== null && normalized !== p) return `non-normalized path, consider use '${normalized}' instead`;
  return null;
}

function checkHostname(h: string, shown: string): string | null {
  let name = h;
  const portMatch = /:(\d+)$/.exec(h);
  if (portMatch !== null) {
    name = h.slice(0, h.length - portMatch[0].length);
    if (Number(portMatch[1]) > 65535) return 'invalid port number';
  }
  if (!/^[0-9A-Za-z\-._]+$/.test(name)) return `invalid hostname: ${shown}`;
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label.endsWith('-') || (label === '' && i !== labels.length - 1)) return `invalid hostname: ${shown}`;
  }
  return null;
}

function checkIpv4(h: string, shown: string): string | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?::(\d+))?$/.exec(h);
  if (m === null || [m[1], m[2], m[3], m[4]].some((o) => Number(o) > 255)) return `invalid ipv4 address: ${shown}`;
  if (m[5] !== undefined && Number(m[5]) > 65535) return 'invalid port number';
  return null;
}

function checkIpv6(h: string, shown: string): string | null {
  let addr = h;
  const m = /^\[([^\]]*)\](.*)$/.exec(h);
  if (m !== null) {
    addr = m[1];
    if (m[2] !== '') {
      const port = /^:(\d*)$/.exec(m[2]);
      if (port === null) return 'invalid ipv6 address';
      if (Number(port[1]) > 65535) return 'invalid port number';
    }
  }
  return isIPv6(addr) ? null : `invalid ipv6 address: ${shown}`;
}

/** A route `hosts` element: a host name or IP, optional `:port`, at most one `*` as a whole end label. */
export function checkRouteHost(h: string): string | null {
  if (typeof h !== 'string') return 'expected a string';
  const stars = h.split('*').length - 1;
  if (stars > 1) return 'invalid wildcard: must have at most one wildcard';
  if (stars === 1 && !h.startsWith('*.') && !h.endsWith('.*')) {
    return 'invalid wildcard: must be placed at leftmost or rightmost label';
  }
  // like Kong, check the rest as a host with the wildcard label replaced by a plain one
  const mock = stars === 1 ? h.replace('*', 'abc') : h;
  const colons = mock.split(':').length - 1;
  if (colons > 1) return checkIpv6(mock, h);
  if (/^[\d.]+$/.test(mock.replace(':', ''))) return checkIpv4(mock, h);
  return checkHostname(mock, h);
}

/** A route `methods` element: upper-case letters only (Kong: `^%u+$`). */
export function checkRouteMethod(m: string): string | null {
  if (typeof m !== 'string') return 'expected a string';
  return /^[A-Z]+$/.test(m) ? null : `invalid value: ${m}`;
}

/** A route `headers` key. */
/** A route `headers` value: plain (compared case-insensitively) or, after `~*`, a case-insensitive regex. */
export function checkRouteHeaderValue(value: string): string | null {
  if (typeof value !== 'string' || !value.startsWith('~*')) return null;
  const re = value.slice(2);
  try {
    compileWithFallback(re.toLowerCase(), 'i');
  } catch (err) {
    return `invalid regex: '${re}' (${(err as Error).message})`;
  }
  return null;
}

export function checkRouteHeaderName(name: string): string | null {
  if (typeof name !== 'string') return 'expected a string';
  if (name.toLowerCase() === 'host') {
    return "cannot contain 'host' header, which must be specified in the 'hosts' attribute";
  }
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    return `bad header name '${name}', allowed characters are A-Z, a-z, 0-9, '_', and '-'`;
  }
  return null;
}
