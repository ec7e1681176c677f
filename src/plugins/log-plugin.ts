import type { PluginCheck } from './types';
import type { QueueConfig } from '../observe/queue';

/** Kong's custom_fields_by_lua: Lua code, which this gateway does not run; an empty map is no code. */
export function refuseLuaFields(config: { custom_fields_by_lua?: Record<string, string> | null }): PluginCheck[] {
  const fields = config.custom_fields_by_lua;
  if (fields == null || Object.keys(fields).length === 0) return [];
  return [{ path: ['config', 'custom_fields_by_lua'], message: 'Lua code is not supported by this gateway: remove custom_fields_by_lua' }];
}

/**
 * The queue of plugins Kong gives none (file-log, tcp-log, udp-log): entries leave at once, many to a write, and
 * at most 10,000 wait while the destination is slow or down.
 */
export const IMMEDIATE_QUEUE: QueueConfig = {
  max_batch_size: 1000,
  max_coalescing_delay: 0,
  max_entries: 10_000,
  max_bytes: null,
  max_retry_time: 60,
  initial_retry_delay: 0.01,
  max_retry_delay: 60,
  concurrency_limit: 1,
};
