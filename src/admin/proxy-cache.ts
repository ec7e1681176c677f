import { log } from '../log';
import { runCacheOperation, proxyCaches, type CacheOperation, type CacheOperationResult } from '../plugins/proxy-cache/operations';
import { notFound, sendJson, type AdminRequest } from './http';
import type { AdminRouter } from './router';

/**
 * Runs a cache operation where the caches are: in this process, or in each of a pool's workers (each has its own
 * cache), whose answers are combined: found when any worker found the entry.
 */
async function run(r: AdminRequest, operation: CacheOperation): Promise<CacheOperationResult> {
  const pool = r.gateway.options.workers;
  if (pool === undefined) return runCacheOperation(r.snapshot, operation, Date.now());
  const { answers, failed } = await pool.callEach<CacheOperationResult>('proxy-cache', operation);
  if (failed > 0) log('warn', 'proxy-cache: workers did not answer a cache operation', { op: operation.op, workers: failed });
  return { found: answers.some((a) => a.found), entry: answers.find((a) => a.entry !== undefined)?.entry };
}

function noContent(r: AdminRequest): void {
  r.res.writeHead(204);
  r.res.end();
}

async function get(r: AdminRequest, operation: CacheOperation): Promise<void> {
  const result = await run(r, operation);
  if (result.entry === undefined) return notFound(r);
  sendJson(r.res, 200, result.entry);
}

async function purge(r: AdminRequest, operation: CacheOperation): Promise<void> {
  const result = await run(r, operation);
  if (!result.found) return notFound(r);
  noContent(r);
}

/** A proxy-cache instance of the live config, else 404 (without asking any worker). */
function known(r: AdminRequest, pluginId: string): boolean {
  if (proxyCaches(r.snapshot).has(pluginId)) return true;
  notFound(r);
  return false;
}

/**
 * Kong's proxy-cache endpoints (kong/plugins/proxy-cache/api.lua). Purges are operations on the caches, not changes
 * to the config, so they are served although the Admin API is read-only for config (behind the admin token, as
 * every endpoint).
 */
export function addProxyCacheRoutes(router: AdminRouter): void {
  router.add('/proxy-cache', {
    DELETE: async (r) => {
      await run(r, { op: 'flush' });
      noContent(r);
    },
  });
  router.add('/proxy-cache/:cache_key', {
    GET: (r, p) => get(r, { op: 'get', key: p.cache_key }),
    DELETE: (r, p) => purge(r, { op: 'purge', key: p.cache_key }),
  });
  router.add('/proxy-cache/:plugin_id/caches/:cache_key', {
    GET: (r, p) => (known(r, p.plugin_id) ? get(r, { op: 'get', key: p.cache_key, plugin: p.plugin_id }) : undefined),
    DELETE: (r, p) => (known(r, p.plugin_id) ? purge(r, { op: 'purge', key: p.cache_key, plugin: p.plugin_id }) : undefined),
  });
}
