import type { PluginCheck, PluginDefinition } from '../types';
import type { RequestContext } from '../../proxy/context';
import { MESSAGES } from '../../proxy/respond';
import { identify, type IdentifyBy, type LimitBy } from './identify';
import { writeRateLimitHeaders, type HeaderPlan } from './headers';
import { acquireCounters, releaseCounters, type ScopeCounters } from './local-counters';
import { LeasedCounters, leaseTransport } from './leases';
import { acquireRedis, releaseRedis, type RedisSettings, type SharedRedis } from './redis-counters';
import { CurrentWindows, PERIODS, secondsLeft, type Period, type PeriodIndex, type Window } from './windows';
import configSchema from './schema.json';

export interface RateLimitingConfig extends Partial<Record<Period, number>> {
  limit_by: LimitBy;
  header_name?: string;
  path?: string;
  policy: 'local' | 'cluster' | 'redis';
  fault_tolerant: boolean;
  hide_client_headers: boolean;
  error_code: number;
  error_message: string;
  sync_rate: number;
  redis: Partial<RedisSettings>;
  // Kong's older flat spellings of redis.*, still accepted.
  redis_host?: string;
  redis_port?: number;
  redis_timeout?: number;
  redis_username?: string;
  redis_password?: string;
  redis_database?: number;
  redis_ssl?: boolean;
  redis_ssl_verify?: boolean;
  redis_server_name?: string;
}

export interface CompiledRateLimit extends HeaderPlan {
  by: IdentifyBy;
  hideHeaders: boolean;
  faultTolerant: boolean;
  errorCode: number;
  errorMessage: string;
  /** local policy: this scope's counters in this process. */
  local: ScopeCounters | undefined;
  /** local policy in a pool's worker: permits leased from the primary's counters. */
  leased: LeasedCounters | undefined;
  /** redis policy: the shared client, and Kong's key prefix `ratelimit:<route id>:<service id>:`. */
  redis: SharedRedis | undefined;
  keyPrefix: string;
  /** Scratch for the local policy's per-period usage (the request path is synchronous there). */
  usage: number[];
  clock: CurrentWindows;
}

// Kong's scope ids when a plugin is not attached to a route or service.
const NO_ID = '00000000-0000-0000-0000-000000000000';

const FLAT_REDIS_FIELDS = ['host', 'port', 'timeout', 'username', 'password', 'database', 'ssl', 'ssl_verify', 'server_name'] as const;

/** config.redis with Kong's flat `redis_*` spellings applied over it. */
function redisSettings(c: RateLimitingConfig): RedisSettings {
  const s = { ...c.redis } as Record<string, unknown>;
  for (const f of FLAT_REDIS_FIELDS) {
    const flat = (c as unknown as Record<string, unknown>)[`redis_${f}`];
    if (flat !== undefined) s[f] = flat;
  }
  return s as unknown as RedisSettings;
}

function formatLimit(n: number): string {
  return n.toFixed(1);
}

function checkConfig(c: RateLimitingConfig): PluginCheck[] {
  const out: PluginCheck[] = [];
  const configured = PERIODS.filter((p) => c[p] !== undefined);
  if (configured.length === 0) {
    out.push({ path: ['config'], message: `at least one of these fields must be non-empty: ${PERIODS.map((p) => `'config.${p}'`).join(', ')}` });
  }
  outer: for (let i = 0; i < configured.length; i++) {
    for (let j = i + 1; j < configured.length; j++) {
      const [lower, upper] = [configured[i], configured[j]];
      if (c[upper]! < c[lower]!) {
        out.push({
          path: ['config', upper],
          message: `The limit for ${upper}(${formatLimit(c[upper]!)}) cannot be lower than the limit for ${lower}(${formatLimit(c[lower]!)})`,
        });
        break outer;
      }
    }
  }
  if (c.limit_by === 'header' && c.header_name === undefined) {
    out.push({ path: ['config', 'header_name'], message: "required field missing (limit_by is 'header')" });
  }
  if (c.limit_by === 'path' && c.path === undefined) {
    out.push({ path: ['config', 'path'], message: "required field missing (limit_by is 'path')" });
  }
  if (c.policy === 'cluster') {
    out.push({
      path: ['config', 'policy'],
      message:
        "policy 'cluster' keeps counters in Kong's database, and this gateway runs without one (DB-less): " +
        "use 'local' (counters per gateway process) or 'redis' (one limit shared by every gateway on the same Redis)",
    });
  }
  if (c.policy === 'redis' && redisSettings(c).host === undefined) {
    out.push({ path: ['config', 'redis', 'host'], message: "required field missing (policy is 'redis')" });
  }
  if (c.sync_rate !== -1) {
    if (c.policy !== 'redis') out.push({ path: ['config', 'sync_rate'], message: 'sync_rate can only be used with the redis policy' });
    else if (c.sync_rate < 0.02) out.push({ path: ['config', 'sync_rate'], message: 'sync_rate must be greater than 0.02, or -1 to disable' });
    else out.push({ path: ['config', 'sync_rate'], message: 'ignored: this gateway counts in Redis on every request (as with -1)', severity: 'warning' });
  }
  for (const f of FLAT_REDIS_FIELDS) {
    if ((c as unknown as Record<string, unknown>)[`redis_${f}`] !== undefined) {
      out.push({ path: ['config', `redis_${f}`], message: `deprecated: use config.redis.${f} instead`, severity: 'warning' });
    }
  }
  return out;
}

/** Ends a counted request: the headers, and Kong's error when a limit is reached. */
function conclude(ctx: RequestContext, c: CompiledRateLimit, usage: readonly number[], windows: readonly Window[], allowed: boolean, now: number): void {
  if (c.hideHeaders) {
    if (!allowed) refuse(ctx, c);
    return;
  }
  const reset = writeRateLimitHeaders((ctx.responseHeaders ??= []), c, usage, windows, allowed, now);
  if (allowed) return;
  ctx.addResponseHeader('Retry-After', String(reset));
  refuse(ctx, c);
}

function refuse(ctx: RequestContext, c: CompiledRateLimit): void {
  ctx.refusal = 'rate limit';
  ctx.refusedBy = 'rate-limiting';
  ctx.error(c.errorCode, c.errorMessage);
}

function isAllowed(c: CompiledRateLimit, usage: readonly number[]): boolean {
  for (let i = 0; i < usage.length; i++) if (c.limits[i] - usage[i] <= 0) return false;
  return true;
}

async function takeFromRedis(ctx: RequestContext, c: CompiledRateLimit, identifier: string, now: number): Promise<void> {
  const windows = c.clock.at(c.periods, now);
  const n = c.periods.length;
  const keys: string[] = new Array(n);
  const args: Array<string | number> = new Array(2 * n);
  for (let i = 0; i < n; i++) {
    const p = c.periods[i];
    const w = windows[p];
    keys[i] = `${c.keyPrefix}${identifier}:${w.start}:${PERIODS[p]}`;
    args[i] = c.limitValues[i];
    args[n + i] = secondsLeft(w.end, now);
  }
  let usage: number[];
  try {
    usage = await c.redis!.take(keys, args);
  } catch {
    // The outage is logged once by the shared client. As Kong: fault tolerant → traffic flows, unlimited and
    // without headers; otherwise Kong's generic 500.
    if (!c.faultTolerant) ctx.error(500, MESSAGES.unexpected);
    return;
  }
  // Windows are shared by concurrent requests: take this request's again, in case another rolled them meanwhile.
  conclude(ctx, c, usage, c.clock.at(c.periods, now), isAllowed(c, usage), now);
}

async function takeLeased(ctx: RequestContext, c: CompiledRateLimit, identifier: string): Promise<void> {
  const usage = c.periods.map(() => 0);
  const allowed = await c.leased!.take(identifier, c.periods, c.limits, usage);
  const now = Date.now();
  conclude(ctx, c, usage, c.clock.at(c.periods, now), allowed, now);
}

export const rateLimiting: PluginDefinition<RateLimitingConfig, CompiledRateLimit> = {
  name: 'rate-limiting',
  priority: 910,
  version: '1.0.0',
  configSchema,
  check(plugin) {
    return checkConfig(plugin.config);
  },
  compile(config, build, plugin) {
    const scope = `${plugin.route ?? NO_ID}:${plugin.service ?? NO_ID}`;
    const previous = build.previous as CompiledRateLimit | undefined;
    // Same plugin, same config, same scope as in the previous snapshot: keep its state as it is.
    if (previous !== undefined && previous.keyPrefix === `ratelimit:${scope}:`) return previous;
    const periods = PERIODS.map((p, i) => [p, i] as const)
      .filter(([p]) => config[p] !== undefined)
      .map(([, i]) => i as PeriodIndex);
    const limits = periods.map((i) => config[PERIODS[i]]!);
    // Offline (explain), a redis policy counts in this process: nothing is taken from the shared counters.
    const redis = config.policy === 'redis' && build.offline !== true;
    const transport = redis || build.offline === true ? undefined : leaseTransport();
    return {
      periods,
      limits,
      limitValues: limits.map(String),
      by: { limitBy: config.limit_by, headerName: config.header_name?.toLowerCase(), path: config.path },
      hideHeaders: config.hide_client_headers,
      faultTolerant: config.fault_tolerant,
      errorCode: config.error_code,
      errorMessage: config.error_message,
      local: redis || transport !== undefined ? undefined : acquireCounters(scope),
      leased: transport === undefined ? undefined : new LeasedCounters(scope, transport),
      redis: redis ? acquireRedis(redisSettings(config)) : undefined,
      keyPrefix: `ratelimit:${scope}:`,
      usage: periods.map(() => 0),
      clock: new CurrentWindows(),
    };
  },
  access(ctx, c) {
    const now = Date.now();
    const identifier = identify(ctx, c.by);
    if (c.local !== undefined) {
      const allowed = c.local.take(identifier, c.periods, c.limits, now, c.usage);
      return conclude(ctx, c, c.usage, c.local.windows, allowed, now);
    }
    if (c.leased !== undefined) {
      const held = c.leased.takeHeld(identifier, now, c.usage);
      if (held !== undefined) return conclude(ctx, c, c.usage, c.clock.at(c.periods, now), held, now);
      return takeLeased(ctx, c, identifier);
    }
    return takeFromRedis(ctx, c, identifier, now);
  },
  dispose(c) {
    if (c.local !== undefined) releaseCounters(c.local);
    c.leased?.close();
    if (c.redis !== undefined) releaseRedis(c.redis);
  },
};
