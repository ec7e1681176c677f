// The request path's way to a balanced upstream: lease a target, report how it went, release it.
// Also what the WebSocket upgrade path calls to pick the target of an upgrade.
import type { UpstreamTarget } from '../config/snapshot';
import type { RequestContext } from '../proxy/context';
import type { Balancer } from './balancer';
import { hashKeyOf } from './hash-key';
import { balancerFor } from './registry';

/** Kong's answer when no target can be picked (kong/runloop/balancer/init.lua), with status 503. */
export const NO_PEER_MESSAGE = 'failure to get a peer from the ring-balancer';

/** One request's use of one target. */
export interface TargetLease {
  /** Where to connect: host, port, protocol, the Host header to send, the service's timeouts. */
  readonly target: UpstreamTarget;
  /** The target's index in its upstream; -1 for a service that names a host, not an upstream. */
  readonly index: number;
  /** The target answered with `status` (passive health check; latency sample). */
  responded(status: number): void;
  /** Connecting or talking to the target failed: a tcp error, or a timeout (passive health check). */
  failed(kind: 'tcp' | 'timeout'): void;
  /** The request is over (answered, failed or abandoned). Idempotent. */
  release(): void;
}

class BalancedLease implements TargetLease {
  private released = false;
  private readonly startedAt = Date.now();

  constructor(
    private readonly balancer: Balancer,
    readonly index: number,
    readonly target: UpstreamTarget,
  ) {}

  responded(status: number): void {
    this.balancer.responded(this.index, status, Date.now() - this.startedAt);
  }

  failed(kind: 'tcp' | 'timeout'): void {
    this.balancer.report(this.index, kind === 'tcp' ? 'tcp_failure' : 'timeout', 'passive', kind === 'tcp' ? 'connection failed' : 'timed out');
    this.release();
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.balancer.release(this.index);
  }
}

const NO_OP = () => {};

/** A request's hash key, computed once: a retry hashes the same (and a cookie is handed out once). */
const hashKeys = new WeakMap<RequestContext, string | undefined>();

/**
 * The target for this request: for a balanced service, one its upstream picks among the healthy targets not in
 * `excluded` (indexes that already failed for this request; ignored when they are all that is left); for any other
 * service, its host. Undefined when the upstream has no target to give: answer 503 with NO_PEER_MESSAGE.
 */
export function leaseTarget(ctx: RequestContext, excluded?: ReadonlySet<number>): TargetLease | undefined {
  const balanced = ctx.runtime.balanced;
  if (balanced === undefined) return { target: ctx.runtime.upstream!, index: -1, responded: NO_OP, failed: NO_OP, release: NO_OP };
  const balancer = balancerFor(balanced.spec);
  let key = hashKeys.get(ctx);
  if (key === undefined && !hashKeys.has(ctx)) {
    key = hashKeyOf(ctx, balanced.spec.entity);
    hashKeys.set(ctx, key);
  }
  let i = balancer.pick(key, excluded);
  if (i === -1 && excluded !== undefined && excluded.size > 0) i = balancer.pick(key, undefined);
  return i === -1 ? undefined : new BalancedLease(balancer, i, balanced.targets[i]);
}
