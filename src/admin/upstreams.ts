// Kong's upstream health endpoints (kong/api/routes/upstreams.lua), DB-less: GET /upstreams/{upstream}/health
// shows each target's health as this process sees it; PUT …/targets/{target}/healthy|unhealthy sets it in memory
// (until a check says otherwise), as Kong does without a database.
import type { Balancer, TargetState } from '../balancer/balancer';
import { balancerFor } from '../balancer/registry';
import { checksOn, type UpstreamSpec } from '../balancer/spec';
import { NODE_ID } from '../node-id';
import { notFound, sendJson, type AdminRequest } from './http';
import type { AdminRouter } from './router';

type Health = 'HEALTHY' | 'UNHEALTHY' | 'HEALTHCHECKS_OFF';

export function healthOf(spec: UpstreamSpec, t: TargetState): Health {
  if (!t.healthy) return 'UNHEALTHY';
  return checksOn(spec) ? 'HEALTHY' : 'HEALTHCHECKS_OFF';
}

function upstreamOf(r: AdminRequest, ref: string): UpstreamSpec | undefined {
  const byName = r.snapshot.upstreams.get(ref);
  if (byName !== undefined) return byName;
  for (const spec of r.snapshot.upstreams.values()) if (spec.entity.id === ref) return spec;
  return undefined;
}

function targetView(spec: UpstreamSpec, t: TargetState) {
  const health = healthOf(spec, t);
  return {
    id: t.spec.id,
    target: t.spec.address,
    upstream: { id: spec.entity.id },
    weight: t.spec.weight,
    tags: null,
    health,
    data: {
      addresses: [{ ip: t.spec.host, port: t.spec.port, health, weight: t.spec.weight }],
      weight: { total: t.spec.weight, available: t.healthy ? t.spec.weight : 0, unavailable: t.healthy ? 0 : t.spec.weight },
    },
  };
}

function balancerHealth(spec: UpstreamSpec, b: Balancer) {
  let total = 0;
  let available = 0;
  for (const t of b.targets) {
    total += t.spec.weight;
    if (t.healthy) available += t.spec.weight;
  }
  const threshold = spec.entity.healthchecks.threshold;
  const healthy = available > 0 && (threshold <= 0 || (available * 100) / total >= threshold);
  return {
    id: spec.entity.id,
    health: !checksOn(spec) && healthy ? 'HEALTHCHECKS_OFF' : healthy ? 'HEALTHY' : 'UNHEALTHY',
    details: { healthy, weight: { total, available, unavailable: total - available }, hosts: b.targets.map((t) => targetView(spec, t)) },
  };
}

export function addUpstreamRoutes(router: AdminRouter): void {
  router.add('/upstreams/:upstream/health', {
    GET: (r, p) => {
      const spec = upstreamOf(r, p.upstream);
      if (spec === undefined) return notFound(r);
      const b = balancerFor(spec);
      if (r.query.get('balancer_health') === '1') return sendJson(r.res, 200, { data: balancerHealth(spec, b), next: null, node_id: NODE_ID });
      sendJson(r.res, 200, { data: b.targets.map((t) => targetView(spec, t)), next: null, node_id: NODE_ID });
    },
  });
  for (const healthy of [true, false]) {
    const set = (r: AdminRequest, p: Record<string, string>) => {
      const spec = upstreamOf(r, p.upstream);
      if (spec === undefined) return notFound(r);
      const b = balancerFor(spec);
      const i = b.indexOf(decodeURIComponent(p.target));
      if (i === -1) return notFound(r);
      if (p.address !== undefined && decodeURIComponent(p.address) !== b.targets[i].spec.address) {
        return sendJson(r.res, 400, { message: `no such address '${decodeURIComponent(p.address)}' for target '${b.targets[i].spec.address}'` });
      }
      b.setHealth(i, healthy, 'set through the Admin API');
      r.res.writeHead(204);
      r.res.end();
    };
    const word = healthy ? 'healthy' : 'unhealthy';
    router.add(`/upstreams/:upstream/targets/:target/${word}`, { PUT: set, POST: set });
    router.add(`/upstreams/:upstream/targets/:target/:address/${word}`, { PUT: set, POST: set });
  }
}
