import type { Snapshot } from '../../config/snapshot';
import type { CompiledProxyCache } from './index';
import { addHeader, type CachedResponse } from './memory';

/**
 * What the Admin API's /proxy-cache endpoints do to the caches of one process (kong/plugins/proxy-cache/api.lua).
 * Plain data in and out: a pool's primary sends it to each worker, whose caches these are.
 */
export type CacheOperation =
  | { op: 'flush' }
  | { op: 'get' | 'purge'; key: string; /** One instance's cache; every instance's when absent. */ plugin?: string };

export interface CacheOperationResult {
  /** An entry was found (get, purge); always true for flush. */
  found: boolean;
  /** get: the entry as Kong's Admin API shows it. */
  entry?: EntryView;
}

/** A cached response as Kong's Admin API shows the stored object. */
export interface EntryView {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
  body_len: number;
  timestamp: number;
  ttl: number;
  version: 1;
}

/** The compiled proxy-cache instances of a snapshot, by plugin id (enabled ones only: others have no cache). */
export function proxyCaches(snapshot: Snapshot): Map<string, CompiledProxyCache> {
  const out = new Map<string, CompiledProxyCache>();
  for (const p of snapshot.entities.plugins) {
    if (p.name !== 'proxy-cache') continue;
    const compiled = snapshot.compiledPlugins.get(p.id);
    if (compiled !== undefined) out.set(p.id, compiled.conf as CompiledProxyCache);
  }
  return out;
}

function viewOf(e: CachedResponse): EntryView {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < e.headers.length; i += 2) {
    addHeader(headers, e.headers[i] as string, e.headers[i + 1]);
  }
  return { status: e.status, headers, body: e.body.toString('utf8'), body_len: e.body.length, timestamp: e.timestamp, ttl: e.ttl, version: 1 };
}

export function runCacheOperation(snapshot: Snapshot, operation: CacheOperation, nowMs: number): CacheOperationResult {
  const caches = proxyCaches(snapshot);
  if (operation.op === 'flush') {
    for (const c of caches.values()) c.cache.flush();
    return { found: true };
  }
  const one = operation.plugin === undefined ? undefined : caches.get(operation.plugin);
  const targets = operation.plugin === undefined ? [...caches.values()] : one === undefined ? [] : [one];
  let found = false;
  for (const c of targets) {
    if (operation.op === 'get') {
      const entry = c.cache.fetch(operation.key, nowMs);
      if (entry !== undefined) return { found: true, entry: viewOf(entry) };
    } else if (c.cache.fetch(operation.key, nowMs) !== undefined) {
      // fetched first: an entry past its storage time is gone already, as in Kong
      c.cache.purge(operation.key);
      found = true;
    }
  }
  return { found };
}
