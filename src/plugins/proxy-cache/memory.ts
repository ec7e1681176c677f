/**
 * The memory strategy: each plugin instance has its own cache (Kong's entries never cross instances either), and
 * all of them share one byte budget per process, evicting the least recently used entry of any instance when it is
 * full, as nginx's shared dictionary does.
 */

/** One cached response, with what Kong stores beside it (kong/plugins/proxy-cache/handler.lua body_filter). */
export interface CachedResponse {
  status: number;
  /** The response's headers as they were when it was stored ([name, value, …]), for the Admin API. */
  headers: ReadonlyArray<string | string[]>;
  /** The headers a hit answers with: `headers` less hop-by-hop, per-request and cache headers. */
  served: Readonly<Record<string, string | string[]>>;
  body: Buffer;
  /** Seconds since epoch when it was stored (nginx's ngx.time()). */
  timestamp: number;
  /** The response's own lifetime in seconds: cache_ttl, or what its Cache-Control or Expires said. */
  ttl: number;
}

/** Adds a header to a name → value record, a name seen again getting every value. */
export function addHeader(out: Record<string, string | string[]>, name: string, value: string | string[]): void {
  const had = out[name];
  if (had === undefined) out[name] = value;
  else out[name] = [...(Array.isArray(had) ? had : [had]), ...(Array.isArray(value) ? value : [value])];
}

interface Slot {
  owner: MemoryCache;
  key: string;
  value: CachedResponse;
  bytes: number;
  /** Milliseconds since epoch after which the entry is gone; Infinity to keep it until evicted. */
  expiresAt: number;
}

/** The default budget: Kong's mem_cache_size, which sizes kong_db_cache, the default dictionary. */
export const DEFAULT_CACHE_BYTES = 128 * 1024 * 1024;

// What an entry costs beyond its bytes: the slot, the maps' entries, the record.
const SLOT_OVERHEAD = 256;

class Budget {
  limit = DEFAULT_CACHE_BYTES;
  used = 0;
  /** Every entry of every instance, least recently used first (a Set keeps insertion order). */
  readonly lru = new Set<Slot>();

  /** The largest entry taken: an eighth of the budget, so one response never empties the cache. */
  get entryLimit(): number {
    return Math.max(1, Math.floor(this.limit / 8));
  }

  evictFor(bytes: number): void {
    while (this.used + bytes > this.limit && this.lru.size > 0) {
      const oldest: Slot = this.lru.values().next().value!;
      oldest.owner.drop(oldest);
    }
  }
}

const budget = new Budget();

/** Sets the bytes all caches of this process may hold together (the gateway's --mem-cache-size, or its share of it). */
export function setCacheBudget(bytes: number): void {
  budget.limit = bytes;
  budget.evictFor(0);
}

/** The largest response body a cache takes. */
export function entryLimit(): number {
  return budget.entryLimit;
}

/** What all caches of this process hold now. */
export function cacheUsage(): { bytes: number; entries: number; limit: number } {
  return { bytes: budget.used, entries: budget.lru.size, limit: budget.limit };
}

function sizeOf(key: string, value: CachedResponse): number {
  let bytes = SLOT_OVERHEAD + key.length + value.body.length;
  for (const h of value.headers) bytes += 2 * (Array.isArray(h) ? h.reduce((n, v) => n + v.length, 0) : h.length);
  return bytes;
}

export class MemoryCache {
  private readonly entries = new Map<string, Slot>();
  private disposed = false;

  constructor(readonly dictionary: string) {}

  /** The entry under `key` unless its storage time is over; a read makes it the most recently used. */
  fetch(key: string, nowMs: number): CachedResponse | undefined {
    const slot = this.entries.get(key);
    if (slot === undefined) return undefined;
    if (slot.expiresAt <= nowMs) {
      this.drop(slot);
      return undefined;
    }
    budget.lru.delete(slot);
    budget.lru.add(slot);
    return slot.value;
  }

  /** Keeps `value` for `ttlSeconds` (0: until evicted). False when it could never fit. */
  store(key: string, value: CachedResponse, ttlSeconds: number, nowMs: number): boolean {
    if (this.disposed) return false; // a response finishing after its config was replaced
    const bytes = sizeOf(key, value);
    if (bytes > budget.limit) return false;
    const old = this.entries.get(key);
    if (old !== undefined) this.drop(old);
    budget.evictFor(bytes);
    const slot: Slot = { owner: this, key, value, bytes, expiresAt: ttlSeconds > 0 ? nowMs + ttlSeconds * 1000 : Infinity };
    this.entries.set(key, slot);
    budget.lru.add(slot);
    budget.used += bytes;
    return true;
  }

  /** Removes one entry; false when there was none. */
  purge(key: string): boolean {
    const slot = this.entries.get(key);
    if (slot === undefined) return false;
    this.drop(slot);
    return true;
  }

  /** Removes every entry. */
  flush(): void {
    for (const slot of this.entries.values()) this.drop(slot);
  }

  /** Flushes and takes no more entries: the instance is no longer in any live config. */
  dispose(): void {
    this.flush();
    this.disposed = true;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Only through the cache or the budget (eviction). */
  drop(slot: Slot): void {
    if (this.entries.get(slot.key) !== slot) return;
    this.entries.delete(slot.key);
    budget.lru.delete(slot);
    budget.used -= slot.bytes;
  }
}
