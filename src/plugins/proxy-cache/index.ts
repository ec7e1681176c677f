import type { PluginCheck, PluginDefinition } from '../types';
import type { RequestContext } from '../../proxy/context';
import type { ResponseHead } from '../../proxy/response-head';
import { cacheKey, headersKey, paramsKey, prefixOf, queryArgs, requestLine, varyHeader, type VaryHeader } from './cache-key';
import { parseDirectives, resourceTtl, seconds, type Directives } from './cache-control';
import { mediaTypeMatches, parseMediaType, type MediaType } from './media-type';
import { addHeader, entryLimit, MemoryCache, type CachedResponse } from './memory';
import configSchema from './schema.json';

export interface ProxyCacheConfig {
  response_code: number[];
  request_method: string[];
  content_type: string[];
  cache_ttl: number;
  strategy: 'memory' | 'redis';
  cache_control: boolean;
  ignore_uri_case: boolean;
  storage_ttl?: number;
  memory: { dictionary_name: string };
  vary_query_params?: string[];
  vary_headers?: string[];
  response_headers: { age: boolean; 'X-Cache-Status': boolean; 'X-Cache-Key': boolean };
}

export interface CompiledProxyCache {
  methods: ReadonlySet<string>;
  codes: ReadonlySet<number>;
  contentTypes: readonly MediaType[];
  cacheTtl: number;
  storageTtl: number | undefined;
  cacheControl: boolean;
  ignoreUriCase: boolean;
  /** undefined: every query argument is part of the key. */
  varyQuery: readonly string[] | undefined;
  varyHeaders: readonly VaryHeader[];
  showAge: boolean;
  showStatus: boolean;
  showKey: boolean;
  cache: MemoryCache;
}

type CacheStatus = 'Miss' | 'Refresh' | 'Bypass';

/** What the access phase decided, for the response phase of the same request. */
interface Pending {
  /** Undefined when the request was not cacheable (no key computed). */
  key: string | undefined;
  /** X-Cache-Status to send; undefined for none (the only-if-cached 504). */
  status: CacheStatus | undefined;
  /** The response is to be stored if it turns out cacheable. */
  store: boolean;
  /** The request carried Kong-Debug: the cache headers are sent whatever response_headers says. */
  debug: boolean;
  /** Set by the response phase once the response is cacheable: its lifetime and its headers as they were then. */
  ttl: number;
  headers: Array<string | string[]> | undefined;
}

// A request's state between its phases; a hit has none (its answer carries its headers already).
const pending = new WeakMap<RequestContext, Pending>();

/** Not replayed on a hit: hop-by-hop (Kong's list), per-request (the gateway's own), and the cache's own headers. */
const NOT_SERVED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailers',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'x-kong-upstream-latency',
  'x-kong-proxy-latency',
  'x-kong-request-id',
  'x-request-id',
  'age',
  'x-cache-status',
  'x-cache-key',
]);

/**
 * Sets a header with the case Kong gives it (ResponseHead.set lower-cases): clients and the Admin API's view of an
 * entry see `X-Cache-Key`.
 */
function setHeader(head: ResponseHead, name: string, value: string): void {
  head.remove(name);
  head.headers.push(name, value);
}

function keyOf(ctx: RequestContext, c: CompiledProxyCache, method: string): string {
  const req = ctx.req;
  const prefix = prefixOf(ctx.consumer?.id, ctx.match.route.id);
  const uri = requestLine(method, req.url ?? '/', req.httpVersion, c.ignoreUriCase);
  const params = ctx.rawQuery === null ? '' : paramsKey(queryArgs(ctx.rawQuery), c.varyQuery);
  const headers = c.varyHeaders.length === 0 ? '' : headersKey(req.headers, c.varyHeaders);
  return cacheKey(prefix, method, uri, params, headers);
}

/** Whether the client will not take this entry (Kong's access phase checks, in seconds as nginx counts them). */
export function isStale(entry: CachedResponse, c: CompiledProxyCache, cc: Directives | undefined, nowSec: number): boolean {
  const age = nowSec - entry.timestamp;
  // Without cache_control an entry may outlive cache_ttl in storage (storage_ttl), but is not served past it.
  if (cc === undefined) return age > c.cacheTtl;
  const maxAge = seconds(cc, 'max-age');
  if (maxAge !== undefined && age > maxAge) return true;
  const maxStale = seconds(cc, 'max-stale');
  if (maxStale !== undefined && age - entry.ttl > maxStale) return true;
  const minFresh = seconds(cc, 'min-fresh');
  return minFresh !== undefined && entry.ttl - age < minFresh;
}

/** The cached answer, with the cache's headers and the gateway's latency headers of this request. */
function serveHit(ctx: RequestContext, c: CompiledProxyCache, entry: CachedResponse, key: string, debug: boolean, nowMs: number): void {
  const headers: Record<string, string | string[]> = { ...entry.served };
  if (debug || c.showAge) headers.Age = String(Math.floor(nowMs / 1000) - entry.timestamp);
  if (debug || c.showStatus) headers['X-Cache-Status'] = 'Hit';
  if (debug || c.showKey) headers['X-Cache-Key'] = key;
  headers['X-Kong-Upstream-Latency'] = '0';
  headers['X-Kong-Proxy-Latency'] = String(nowMs - ctx.startedAt);
  ctx.respond(entry.status, entry.body, undefined, headers);
}

/** The response's lifetime in seconds when it may be stored (Kong's cacheable_response), else undefined. */
function cacheableFor(c: CompiledProxyCache, head: ResponseHead, nowMs: number): number | undefined {
  if (!c.codes.has(head.status)) return undefined;
  const type = head.get('content-type');
  if (type === undefined || type === '') return undefined;
  const parsed = parseMediaType(type);
  if (parsed === undefined || !c.contentTypes.some((t) => mediaTypeMatches(t, parsed))) return undefined;
  if (!c.cacheControl) return c.cacheTtl;
  const cc = parseDirectives(head.get('cache-control'));
  if (cc.has('private') || cc.has('no-store') || cc.has('no-cache')) return undefined;
  const ttl = resourceTtl(cc, head.get('expires'), nowMs);
  return ttl > 0 ? ttl : undefined;
}

/** The headers a hit answers with, computed once when the entry is stored. */
function servedHeaders(list: ReadonlyArray<string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = (list[i] as string).toLowerCase();
    // The rate-limiting headers of the request that was stored are not this one's.
    if (NOT_SERVED.has(name) || name.includes('ratelimit')) continue;
    addHeader(out, name, list[i + 1]);
  }
  return out;
}

/** A copy that holds only its own bytes: a slice of a larger read buffer would keep all of it alive. */
function compact(body: Buffer): Buffer {
  if (body.byteOffset === 0 && body.buffer.byteLength === body.length) return body;
  const copy = Buffer.allocUnsafeSlow(body.length);
  body.copy(copy);
  return copy;
}

/** How long an entry is kept: storage_ttl, else the response's own lifetime under cache_control, else cache_ttl. */
export function storageSeconds(c: CompiledProxyCache, responseTtl: number): number {
  return c.storageTtl ?? (c.cacheControl ? responseTtl : c.cacheTtl);
}

function store(ctx: RequestContext, c: CompiledProxyCache, p: Pending, status: number, body: Buffer): void {
  const nowMs = Date.now();
  const headers = p.headers!;
  const entry: CachedResponse = { status, headers, served: servedHeaders(headers), body: compact(body), timestamp: Math.floor(nowMs / 1000), ttl: p.ttl };
  c.cache.store(p.key!, entry, storageSeconds(c, p.ttl), nowMs);
  pending.delete(ctx);
}

/** HEAD answers, 1xx, 204 and 304 carry no body: stored at once, with an empty one. */
function hasNoBody(method: string | undefined, status: number): boolean {
  return method === 'HEAD' || status < 200 || status === 204 || status === 304;
}

const EMPTY = Buffer.alloc(0);

function checkConfig(c: ProxyCacheConfig): PluginCheck[] {
  const out: PluginCheck[] = [];
  if (c.strategy === 'redis') {
    out.push({
      path: ['config', 'strategy'],
      message:
        "strategy 'redis' is Kong Enterprise's (the proxy-cache-advanced plugin); Kong's open-source proxy-cache, " +
        "which this gateway implements, has only 'memory'",
    });
  }
  c.content_type.forEach((type, i) => {
    if (parseMediaType(type) === undefined) {
      out.push({ path: ['config', 'content_type', i], message: `'${type}' is not a media type: it matches no response`, severity: 'warning' });
    }
  });
  return out;
}

export const proxyCache: PluginDefinition<ProxyCacheConfig, CompiledProxyCache> = {
  name: 'proxy-cache',
  priority: 100,
  version: '1.0.0',
  configSchema,
  check: (plugin) => checkConfig(plugin.config),
  compile(c, build) {
    // An unchanged instance keeps its cache across reloads; a changed one starts empty (the old one is disposed).
    if (build.previous !== undefined) return build.previous as CompiledProxyCache;
    return {
      methods: new Set(c.request_method),
      codes: new Set(c.response_code),
      contentTypes: c.content_type.map(parseMediaType).filter((t): t is MediaType => t !== undefined),
      cacheTtl: c.cache_ttl,
      storageTtl: c.storage_ttl,
      cacheControl: c.cache_control,
      ignoreUriCase: c.ignore_uri_case,
      varyQuery: c.vary_query_params !== undefined && c.vary_query_params.length > 0 ? c.vary_query_params : undefined,
      varyHeaders: (c.vary_headers ?? []).map(varyHeader),
      showAge: c.response_headers.age,
      showStatus: c.response_headers['X-Cache-Status'],
      showKey: c.response_headers['X-Cache-Key'],
      cache: new MemoryCache(c.memory.dictionary_name),
    };
  },
  access(ctx, c) {
    const req = ctx.req;
    const h = req.headers;
    const method = req.method ?? 'GET';
    const debug = h['kong-debug'] !== undefined;
    const cc = c.cacheControl ? parseDirectives(h['cache-control']) : undefined;
    // A request with credentials is answered for that client alone (RFC 9111 3.5); Kong means to bypass it too.
    const refused = cc !== undefined && (cc.has('no-store') || cc.has('no-cache') || h.authorization !== undefined);
    if (!c.methods.has(method) || refused) {
      pending.set(ctx, { key: undefined, status: 'Bypass', store: false, debug, ttl: 0, headers: undefined });
      return;
    }
    const key = keyOf(ctx, c, method);
    const nowMs = Date.now();
    const entry = c.cache.fetch(key, nowMs);
    if (entry === undefined) {
      if (cc !== undefined && cc.has('only-if-cached')) {
        pending.set(ctx, { key, status: undefined, store: false, debug, ttl: 0, headers: undefined });
        return ctx.respond(504, '', undefined);
      }
      pending.set(ctx, { key, status: 'Miss', store: true, debug, ttl: 0, headers: undefined });
      return;
    }
    if (isStale(entry, c, cc, Math.floor(nowMs / 1000))) {
      pending.set(ctx, { key, status: 'Refresh', store: true, debug, ttl: 0, headers: undefined });
      return;
    }
    serveHit(ctx, c, entry, key, debug, nowMs);
  },
  headerFilter(ctx, c, head) {
    const p = pending.get(ctx);
    if (p === undefined) return;
    if (p.key !== undefined && (p.debug || c.showKey)) setHeader(head, 'X-Cache-Key', p.key);
    let status = p.status;
    if (p.store) {
      const ttl = cacheableFor(c, head, Date.now());
      if (ttl === undefined) {
        p.store = false;
        status = 'Bypass';
      } else p.ttl = ttl;
    }
    if (status !== undefined && (p.debug || c.showStatus)) setHeader(head, 'X-Cache-Status', status);
    if (!p.store) {
      pending.delete(ctx);
      return;
    }
    // Kong keeps the headers as they are when its header filter runs, the cache's own included.
    p.headers = head.headers.slice();
    if (hasNoBody(ctx.req.method, head.status)) store(ctx, c, p, head.status, EMPTY);
    else head.bufferBody(entryLimit());
  },
  bodyFilter(ctx, c, body, head) {
    const p = pending.get(ctx);
    if (p !== undefined && p.store) store(ctx, c, p, head.status, body);
    return body;
  },
  dispose(c) {
    c.cache.dispose();
  },
};
