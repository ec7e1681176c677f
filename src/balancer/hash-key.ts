// What a consistent-hashing upstream hashes a request on (Kong's kong/runloop/balancer/init.lua get_value):
// hash_on, else hash_fallback when hash_on gives nothing.
import { randomUUID } from 'node:crypto';
import type { HashOn, UpstreamEntity } from '../config/entities';
import type { RequestContext } from '../proxy/context';

function firstOf(v: string | string[] | undefined): string | undefined {
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.join(',');
  return v === '' ? undefined : v;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function valueOf(ctx: RequestContext, u: UpstreamEntity, on: HashOn, fallback: boolean): string | undefined {
  switch (on) {
    case 'consumer': {
      // Kong hashes on the consumer's id, else on the credential's (a credential vouched for without a consumer).
      return ctx.consumer?.id ?? ctx.credential?.id;
    }
    case 'ip':
      return ctx.clientIp;
    case 'header':
      return firstOf(ctx.req.headers[(fallback ? u.hash_fallback_header! : u.hash_on_header!).toLowerCase()]);
    case 'cookie': {
      const name = u.hash_on_cookie!;
      const found = cookieValue(ctx.req.headers.cookie, name);
      if (found !== undefined && found !== '') return found;
      // Kong gives the client a cookie to come back with, and hashes this request on it already.
      const value = randomUUID();
      ctx.addResponseHeader('Set-Cookie', `${name}=${value}; Path=${u.hash_on_cookie_path}`);
      return value;
    }
    case 'path':
      return ctx.match.path;
    case 'query_arg': {
      const values = ctx.query.getAll(fallback ? u.hash_fallback_query_arg! : u.hash_on_query_arg!);
      const joined = values.join(',');
      return joined === '' ? undefined : joined;
    }
    case 'uri_capture': {
      const regex = ctx.match.regex;
      if (regex === null) return undefined;
      const m = regex.exec(ctx.match.path);
      const v = m?.groups?.[fallback ? u.hash_fallback_uri_capture! : u.hash_on_uri_capture!];
      return v === '' ? undefined : v;
    }
    default:
      return undefined;
  }
}

/** The value to hash this request on; undefined when neither hash_on nor hash_fallback gives one. */
export function hashKeyOf(ctx: RequestContext, u: UpstreamEntity): string | undefined {
  if (u.hash_on === 'none') return undefined;
  return valueOf(ctx, u, u.hash_on, false) ?? (u.hash_fallback === 'none' ? undefined : valueOf(ctx, u, u.hash_fallback, true));
}
