import { windowAt, type PeriodIndex, type Window } from './windows';

/**
 * At most this many identifiers are counted per scope and window; past it the oldest entry makes room (an
 * attacker sending endless distinct header values must not grow memory without bound). Kong's shared dict
 * evicts the same way when it is full.
 */
export const MAX_IDENTIFIERS_PER_WINDOW = 200_000;

/** One window of one period: counts by identifier. A new window replaces the map, which drops the old counts. */
class WindowCounts implements Window {
  start = 0;
  end = 0;
  counts = new Map<string, number>();

  roll(period: PeriodIndex, now: number): void {
    windowAt(period, now, this);
    if (this.counts.size > 0) this.counts = new Map();
  }
}

/**
 * The counters of one scope (the plugin's own route and service, as Kong keys them): a global config and a
 * consumer-scoped one share them, a route- or service-scoped config has its own. Shared by every plugin
 * instance with that scope, in this process only.
 */
export class ScopeCounters {
  readonly windows: WindowCounts[] = [];
  users = 0;

  constructor(readonly scope: string) {
    for (let p = 0; p < 6; p++) this.windows.push(new WindowCounts());
  }

  /** The window of `period` holding `now`, rolled over first when it has ended. */
  window(period: PeriodIndex, now: number): WindowCounts {
    const w = this.windows[period];
    if (now >= w.end || now < w.start) w.roll(period, now);
    return w;
  }

  /**
   * Kong's decision for one request: `usage[i]` is set to the count before this request for periods[i];
   * when every period has room (limit − usage > 0), the request is counted in all of them and true returned.
   * A refused request is not counted.
   */
  take(identifier: string, periods: readonly PeriodIndex[], limits: readonly number[], now: number, usage: number[]): boolean {
    return this.takeBlock(identifier, periods, limits, now, usage, ONE) > 0;
  }

  /**
   * As `take`, for several requests at once (a pool worker's lease): `block` is given the smallest room left
   * over the periods and says how many to count. Returns how many were counted, 0 when a period is used up.
   */
  takeBlock(identifier: string, periods: readonly PeriodIndex[], limits: readonly number[], now: number, usage: number[], block: (room: number) => number): number {
    let room = Infinity;
    for (let i = 0; i < periods.length; i++) {
      const used = this.window(periods[i], now).counts.get(identifier) ?? 0;
      usage[i] = used;
      if (limits[i] - used < room) room = limits[i] - used;
    }
    if (room <= 0) return 0;
    const n = Math.max(1, Math.min(room, block(room)));
    for (let i = 0; i < periods.length; i++) {
      const counts = this.windows[periods[i]].counts;
      if (usage[i] === 0 && counts.size >= MAX_IDENTIFIERS_PER_WINDOW) counts.delete(counts.keys().next().value!);
      counts.set(identifier, usage[i] + n);
    }
    return n;
  }

  /** Drops windows that have ended, so counts of idle scopes do not linger until the next request. */
  sweep(now: number): void {
    for (let p = 0; p < 6; p++) {
      const w = this.windows[p];
      if (now >= w.end && w.counts.size > 0) w.counts = new Map();
    }
  }
}

const ONE = () => 1;

const scopes = new Map<string, ScopeCounters>();
let sweeper: NodeJS.Timeout | undefined;
const SWEEP_EVERY_MS = 5_000;

/** The counters of `scope`, shared with every other user of that scope; pair with releaseCounters. */
export function acquireCounters(scope: string): ScopeCounters {
  let counters = scopes.get(scope);
  if (counters === undefined) {
    counters = new ScopeCounters(scope);
    scopes.set(scope, counters);
  }
  counters.users++;
  if (sweeper === undefined) {
    sweeper = setInterval(() => {
      const now = Date.now();
      for (const c of scopes.values()) c.sweep(now);
    }, SWEEP_EVERY_MS);
    sweeper.unref();
  }
  return counters;
}

/** The counters of `scope` while some config uses it. */
export function countersOf(scope: string): ScopeCounters | undefined {
  return scopes.get(scope);
}

export function releaseCounters(counters: ScopeCounters): void {
  if (--counters.users > 0) return;
  scopes.delete(counters.scope);
  if (scopes.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}
