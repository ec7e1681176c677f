// An upstream as the snapshot holds it: its entity and targets, compiled once per config. Immutable: the
// balancer's moving state (health, counters) lives in registry.ts, keyed by upstream name and target address.
import type { EntitySet, TargetEntity, UpstreamEntity } from '../config/entities';
import { parseHostPort } from '../config/upstream-rules';

export interface TargetSpec {
  readonly id: string;
  /** `host:port`, as Kong shows it. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
}

export interface UpstreamSpec {
  readonly entity: UpstreamEntity;
  readonly name: string;
  /** Every target of the upstream, in file order; those of weight 0 are shown but never picked. */
  readonly targets: readonly TargetSpec[];
  /** Equal for two configs that balance the same way: a reload with the same key keeps the algorithm's state. */
  readonly key: string;
}

function targetSpec(t: TargetEntity): TargetSpec {
  const p = parseHostPort(t.target)!;
  return Object.freeze({ id: t.id, address: t.target, host: p.host, port: p.port!, weight: t.weight });
}

/** The upstreams of a config by name. */
export function compileUpstreams(entities: EntitySet): Map<string, UpstreamSpec> {
  const byId = new Map<string, TargetEntity[]>();
  for (const t of entities.targets) {
    const list = byId.get(t.upstream);
    if (list) list.push(t);
    else byId.set(t.upstream, [t]);
  }
  const out = new Map<string, UpstreamSpec>();
  for (const u of entities.upstreams) {
    const targets = (byId.get(u.id) ?? []).map(targetSpec);
    const key = JSON.stringify([u, targets.map((t) => [t.address, t.weight])]);
    out.set(u.name, Object.freeze({ entity: u, name: u.name, targets: Object.freeze(targets), key }));
  }
  return out;
}

/** Whether any check can change a target's health (Kong's "healthchecks off" otherwise). */
export function checksOn(spec: UpstreamSpec): boolean {
  const { active, passive } = spec.entity.healthchecks;
  const u = passive.unhealthy;
  return active.healthy.interval > 0 || active.unhealthy.interval > 0 || u.tcp_failures > 0 || u.timeouts > 0 || u.http_failures > 0;
}
