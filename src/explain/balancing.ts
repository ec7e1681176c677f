// What explain says of a balanced service: the target a request goes to when the algorithm decides it from the
// request alone (consistent-hashing with a value to hash), else the candidates and their shares of the traffic.
// Health is not known to explain (it runs offline): every target counts as up.
import { ConsistentHashing } from '../balancer/algorithms';
import { hashKeyOf } from '../balancer/hash-key';
import type { RequestContext } from '../proxy/context';

export interface BalancingStep {
  upstream: string;
  algorithm: string;
  /** The target this request goes to, when the request alone decides it. */
  target: string | null;
  /** What consistent-hashing hashed on (hash_on or hash_fallback), when it found a value. */
  hashed_on: string | null;
  /** Every target that can be picked, with its share of the traffic (weights). */
  candidates: Array<{ target: string; weight: number; share: string }>;
}

export function balancingOf(ctx: RequestContext): BalancingStep | null {
  const balanced = ctx.runtime.balanced;
  if (balanced === undefined) return null;
  const { spec } = balanced;
  const u = spec.entity;
  const weighted = spec.targets.filter((t) => t.weight > 0);
  const total = weighted.reduce((sum, t) => sum + t.weight, 0);
  const candidates = weighted.map((t) => ({ target: t.address, weight: t.weight, share: `${((t.weight * 100) / total).toFixed(1)}%` }));
  let target: string | null = null;
  let hashedOn: string | null = null;
  if (u.algorithm === 'consistent-hashing' && weighted.length > 0) {
    const key = hashKeyOf(ctx, u);
    if (key !== undefined) {
      const ring = new ConsistentHashing(spec.targets.map((t) => t.address), spec.targets.map((t) => t.weight), u.slots);
      target = spec.targets[ring.ownerOf(key)].address;
      hashedOn = u.hash_on;
    }
  }
  if (weighted.length === 1) target = weighted[0].address;
  return { upstream: spec.name, algorithm: u.algorithm, target, hashed_on: hashedOn, candidates };
}
