// One upstream's live balancer: its targets' health and counters, and the algorithm that picks among them.
// Health follows Kong's healthchecker (lua-resty-healthcheck as kong/runloop/balancer/healthcheckers.lua sets it
// up): counters of successes, tcp failures, timeouts and http failures per target; a failure counter reaching its
// threshold marks the target unhealthy, the success counter reaching its threshold marks it healthy again, and a
// change of state clears the counters. A threshold of 0 turns that check off.
import type { Healthchecks } from '../config/entities';
import { log } from '../log';
import { ConsistentHashing, Latency, LeastConnections, nextAverage, RoundRobin, type Picker } from './algorithms';
import type { TargetSpec, UpstreamSpec } from './spec';

export type HealthEvent = 'success' | 'tcp_failure' | 'timeout' | 'http_failure';

/** What a target carries from one config to the next while its address stays in its upstream. */
export interface TargetState {
  spec: TargetSpec;
  healthy: boolean;
  successes: number;
  tcpFailures: number;
  timeouts: number;
  httpFailures: number;
  /** Requests in flight (least-connections, latency). */
  active: number;
  /** Requests sent to it, for metrics. */
  requests: number;
  /** Moving average of its time to response headers, ms (latency). */
  latency: number | undefined;
  /** Health changes, by the state entered, for metrics. */
  transitions: { healthy: number; unhealthy: number };
}

function freshState(spec: TargetSpec): TargetState {
  return {
    spec, healthy: true, successes: 0, tcpFailures: 0, timeouts: 0, httpFailures: 0, active: 0, requests: 0, latency: undefined,
    transitions: { healthy: 0, unhealthy: 0 },
  };
}

/** The thresholds one kind of check (active or passive) applies. */
interface Thresholds {
  successes: number;
  tcp_failures: number;
  timeouts: number;
  http_failures: number;
}

export class Balancer {
  spec!: UpstreamSpec;
  targets: TargetState[] = [];
  private picker!: Picker;
  /** Indexes of the targets that may ever be picked (weight above 0). */
  private weighted: Uint8Array = new Uint8Array(0);
  /** The request-time check, bound once: healthy and weighted. */
  readonly usable = (i: number): boolean => this.weighted[i] === 1 && this.targets[i].healthy;

  constructor(spec: UpstreamSpec) {
    this.update(spec);
  }

  get healthchecks(): Healthchecks {
    return this.spec.entity.healthchecks;
  }

  /** Takes a new config of this upstream: targets still present keep their health and counters. */
  update(spec: UpstreamSpec): void {
    if (this.spec === spec) return;
    const sameBalancing = this.spec !== undefined && this.spec.key === spec.key;
    const old = new Map(this.targets.map((t) => [t.spec.address, t]));
    this.targets = spec.targets.map((t) => {
      const kept = old.get(t.address);
      if (kept === undefined) return freshState(t);
      kept.spec = t;
      return kept;
    });
    this.weighted = Uint8Array.from(spec.targets, (t) => (t.weight > 0 ? 1 : 0));
    this.spec = spec;
    if (!sameBalancing || this.picker === undefined) this.picker = this.newPicker();
  }

  private newPicker(): Picker {
    const weights = this.spec.targets.map((t) => t.weight);
    const active = (i: number) => this.targets[i].active;
    switch (this.spec.entity.algorithm) {
      case 'consistent-hashing':
        return new ConsistentHashing(this.spec.targets.map((t) => t.address), weights, this.spec.entity.slots);
      case 'least-connections':
        return new LeastConnections(weights, active);
      case 'latency':
        return new Latency(weights, active, (i) => this.targets[i].latency);
      default:
        return new RoundRobin(weights);
    }
  }

  /**
   * Whether the upstream as a whole is up: Kong's `healthchecks.threshold` is the percentage of the total weight
   * that must be healthy (0: any one healthy target will do).
   */
  private aboveThreshold(): boolean {
    const threshold = this.healthchecks.threshold;
    if (threshold <= 0) return true;
    let total = 0;
    let healthy = 0;
    for (const t of this.targets) {
      total += t.spec.weight;
      if (t.healthy) healthy += t.spec.weight;
    }
    return total > 0 && (healthy * 100) / total >= threshold;
  }

  /** The index of the target for this request, or -1 (every target down, failed already, or none). */
  pick(hashKey: string | undefined, excluded: ReadonlySet<number> | undefined): number {
    if (!this.aboveThreshold()) return -1;
    const usable = this.usable;
    const i = this.picker.pick(excluded === undefined || excluded.size === 0 ? usable : (j) => usable(j) && !excluded.has(j), hashKey);
    if (i !== -1) {
      const t = this.targets[i];
      t.active++;
      t.requests++;
    }
    return i;
  }

  /** A request picked with pick() is over, with or without an answer. */
  release(i: number): void {
    const t = this.targets[i];
    if (t !== undefined && t.active > 0) t.active--;
  }

  /** A passive check's outcome: the upstream answered `status` after `ms`. */
  responded(i: number, status: number, ms: number): void {
    const t = this.targets[i];
    if (t === undefined) return;
    t.latency = nextAverage(t.latency, ms);
    const passive = this.healthchecks.passive;
    if (passive.unhealthy.http_statuses.includes(status)) this.report(i, 'http_failure', 'passive', `status ${status}`);
    else if (passive.healthy.http_statuses.includes(status)) this.report(i, 'success', 'passive', `status ${status}`);
  }

  /** Counts one check outcome for target i; `reason` is for the log line. */
  report(i: number, event: HealthEvent, kind: 'active' | 'passive', reason: string): void {
    const t = this.targets[i];
    if (t === undefined) return;
    const hc = this.healthchecks[kind];
    const limits: Thresholds = { successes: hc.healthy.successes, ...hc.unhealthy };
    if (event === 'success') {
      t.tcpFailures = t.timeouts = t.httpFailures = 0;
      if (limits.successes === 0 || t.healthy) return;
      if (++t.successes >= limits.successes) this.setHealth(i, true, `${kind} check: ${t.successes} successes`);
      return;
    }
    t.successes = 0;
    if (!t.healthy) return;
    const [count, limit] =
      event === 'tcp_failure' ? [++t.tcpFailures, limits.tcp_failures] : event === 'timeout' ? [++t.timeouts, limits.timeouts] : [++t.httpFailures, limits.http_failures];
    if (limit > 0 && count >= limit) this.setHealth(i, false, `${kind} check: ${count} ${event.replace('_', ' ')}s (${reason})`);
  }

  /** Sets a target's health (a check's verdict, or the Admin API's PUT …/healthy|unhealthy). */
  setHealth(i: number, healthy: boolean, why: string): void {
    const t = this.targets[i];
    t.successes = t.tcpFailures = t.timeouts = t.httpFailures = 0;
    if (t.healthy === healthy) return;
    t.healthy = healthy;
    t.transitions[healthy ? 'healthy' : 'unhealthy']++;
    log(healthy ? 'info' : 'warn', `upstream target ${healthy ? 'healthy' : 'unhealthy'}`, { upstream: this.spec.name, target: t.spec.address, reason: why });
  }

  indexOf(address: string): number {
    return this.targets.findIndex((t) => t.spec.address === address || t.spec.id === address);
  }

  /** Which target owns a hash key with every target up (consistent-hashing only; for explain). */
  ownerOf(hashKey: string): number | undefined {
    return this.picker instanceof ConsistentHashing ? this.picker.ownerOf(hashKey) : undefined;
  }
}
