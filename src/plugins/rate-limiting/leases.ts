// The local policy in a worker pool: the primary owns the counters (local-counters.ts) and each worker leases
// permits from it in blocks, so a limit holds exactly across workers at one IPC round trip per block.
import { countersOf, MAX_IDENTIFIERS_PER_WINDOW } from './local-counters';
import { windowAt, type PeriodIndex, type Window } from './windows';

/** The most permits one lease hands out: bounds what a worker can hold unused. */
export const MAX_LEASE = 100;

/**
 * How many permits a worker gets at once: a share of the room left, so that the other workers still find some
 * (with `workers` asking, at most half of the room goes out in one round); one when little is left.
 */
export function leaseSize(room: number, workers: number): number {
  return Math.min(MAX_LEASE, Math.max(1, Math.floor(room / (2 * workers))));
}

export interface LeaseRequest {
  scope: string;
  identifier: string;
  periods: readonly PeriodIndex[];
  limits: readonly number[];
}

export interface Lease {
  /** Permits handed out; 0: refused (a period is used up). */
  granted: number;
  /** Per period, the count before the first permit (before the refused request when none). */
  usage: number[];
  /** The lease, or the refusal, holds while the time (ms) is in [from, until): every period's window at once. */
  from: number;
  until: number;
}

/** In the primary: takes a block of permits from the scope's counters. */
export function grantLease(request: LeaseRequest, workers: number, now: number): Lease {
  const { periods, limits } = request;
  const usage = periods.map(() => 0);
  let from = 0;
  let until = Infinity;
  const w: Window = { start: 0, end: 0 };
  for (const p of periods) {
    windowAt(p, now, w);
    if (w.start > from) from = w.start;
    if (w.end < until) until = w.end;
  }
  const counters = countersOf(request.scope);
  // A worker still on a config the primary has just replaced: its request passes, counted nowhere.
  if (counters === undefined) return { granted: 1, usage, from, until };
  const granted = counters.takeBlock(request.identifier, periods, limits, now, usage, (room) => leaseSize(room, workers));
  return { granted, usage, from, until };
}

export type LeaseTransport = (request: LeaseRequest) => Promise<Lease>;

let transport: LeaseTransport | undefined;

/** Set in a pool's worker: its local-policy plugins lease from the primary through this. */
export function leaseThrough(t: LeaseTransport): void {
  transport = t;
}

export function leaseTransport(): LeaseTransport | undefined {
  return transport;
}

/** A lease as a worker holds it: what is left of it, and the usage its next permit reports. */
interface Held {
  from: number;
  until: number;
  left: number;
  refused: boolean;
  usage: number[];
}

const SWEEP_EVERY_MS = 5_000;
const live = new Set<LeasedCounters>();
let sweeper: NodeJS.Timeout | undefined;

/**
 * A worker's side of one local-policy plugin instance: the leases it holds, by identifier. A request takes a
 * permit from a valid lease without any IPC; without one, it asks the primary (requests for the same identifier
 * arriving meanwhile wait for that answer). A refusal is held like a lease, until the used-up window ends, so
 * refused traffic costs no IPC either.
 */
export class LeasedCounters {
  private readonly held = new Map<string, Held>();
  private readonly asking = new Map<string, Promise<void>>();

  constructor(
    private readonly scope: string,
    private readonly transport: LeaseTransport,
  ) {
    live.add(this);
    // Leases of identifiers not seen again are dropped once they end, so they do not linger.
    sweeper ??= setInterval(() => {
      const now = Date.now();
      for (const l of live) l.sweep(now);
    }, SWEEP_EVERY_MS).unref();
  }

  /** From a lease held here: true (counted; `usage` set), false (refused; `usage` set), undefined (ask). */
  takeHeld(identifier: string, now: number, usage: number[]): boolean | undefined {
    const h = this.held.get(identifier);
    if (h === undefined || now >= h.until || now < h.from) return undefined;
    if (h.refused) {
      for (let i = 0; i < usage.length; i++) usage[i] = h.usage[i];
      return false;
    }
    if (h.left === 0) return undefined;
    h.left--;
    for (let i = 0; i < usage.length; i++) usage[i] = h.usage[i]++;
    return true;
  }

  /** As takeHeld, asking the primary for a lease as often as needed. */
  async take(identifier: string, periods: readonly PeriodIndex[], limits: readonly number[], usage: number[]): Promise<boolean> {
    for (;;) {
      const held = this.takeHeld(identifier, Date.now(), usage);
      if (held !== undefined) return held;
      let asking = this.asking.get(identifier);
      if (asking === undefined) {
        asking = this.ask(identifier, periods, limits).finally(() => this.asking.delete(identifier));
        this.asking.set(identifier, asking);
      }
      await asking;
    }
  }

  close(): void {
    this.held.clear();
    live.delete(this);
    if (live.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  private async ask(identifier: string, periods: readonly PeriodIndex[], limits: readonly number[]): Promise<void> {
    const lease = await this.transport({ scope: this.scope, identifier, periods, limits });
    if (!this.held.has(identifier) && this.held.size >= MAX_IDENTIFIERS_PER_WINDOW) this.held.delete(this.held.keys().next().value!);
    this.held.set(identifier, { from: lease.from, until: lease.until, left: lease.granted, refused: lease.granted === 0, usage: lease.usage });
  }

  sweep(now: number): void {
    for (const [identifier, h] of this.held) if (now >= h.until) this.held.delete(identifier);
  }
}
