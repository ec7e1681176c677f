// The live balancers, one per upstream name, outside any snapshot: a reload hands each its upstream's new spec and
// its targets keep their health and counters (registry state is per process: each worker of a pool has its own).
import { Balancer } from './balancer';
import { Prober } from './probes';
import type { UpstreamSpec } from './spec';

interface Entry {
  balancer: Balancer;
  prober: Prober | undefined;
  /** The active checks the prober runs with: a reload that changes them restarts it. */
  probing: string;
}

const entries = new Map<string, Entry>();

/** The balancer of an upstream, brought to this spec (created on first use). Does not start probes. */
export function balancerFor(spec: UpstreamSpec): Balancer {
  const entry = entries.get(spec.name);
  if (entry === undefined) {
    const balancer = new Balancer(spec);
    entries.set(spec.name, { balancer, prober: undefined, probing: '' });
    return balancer;
  }
  if (entry.balancer.spec !== spec) entry.balancer.update(spec);
  return entry.balancer;
}

/** The balancer of an upstream by name, if it was ever used or activated. */
export function existingBalancer(name: string): Balancer | undefined {
  return entries.get(name)?.balancer;
}

/**
 * The config now serving: every upstream's balancer takes its spec and probes as configured; upstreams no longer
 * in it are dropped with their probes.
 */
export function activateUpstreams(specs: ReadonlyMap<string, UpstreamSpec>): void {
  for (const [name, entry] of entries) {
    if (specs.has(name)) continue;
    entry.prober?.stop();
    entries.delete(name);
  }
  for (const spec of specs.values()) {
    balancerFor(spec);
    const entry = entries.get(spec.name)!;
    const active = spec.entity.healthchecks.active;
    const probing = active.healthy.interval > 0 || active.unhealthy.interval > 0 ? JSON.stringify(active) : '';
    if (probing === entry.probing) continue;
    entry.prober?.stop();
    entry.prober = probing === '' ? undefined : new Prober(entry.balancer);
    entry.prober?.start();
    entry.probing = probing;
  }
}

/** Stops every probe (on shutdown). */
export function stopUpstreams(): void {
  for (const entry of entries.values()) entry.prober?.stop();
  entries.clear();
}

/** Every live balancer, for metrics. */
export function liveBalancers(): IterableIterator<Balancer> {
  return [...entries.values()].map((e) => e.balancer).values();
}
